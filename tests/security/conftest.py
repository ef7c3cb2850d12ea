"""Fixtures shared with the hub and interop suites: an in-process hub, namespaces."""

from tests.hub.conftest import make_hub  # noqa: F401
from tests.interop.conftest import netns, run_in_netns  # noqa: F401
