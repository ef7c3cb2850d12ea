"""Where a member server keeps the agent's files.

``shieldwall agent run`` without ``--config`` reads :data:`DEFAULT_CONFIG`;
``shieldwall agent init`` writes it, with the key beside it (:data:`DEFAULT_KEY_NAME`) and
:data:`DEFAULT_DATA` as the data directory; the service unit
(``contrib/systemd/shieldwall-agent.service``) makes both directories.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG = Path("/etc/shieldwall/agent.toml")
DEFAULT_KEY_NAME = "agent.key"  # beside the configuration file
DEFAULT_DATA = Path("/var/lib/shieldwall/agent")
