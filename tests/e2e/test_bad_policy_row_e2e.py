"""A stored policy the hub cannot show must not break it, across a restart.

Policies written before the hub refused NaN and Infinity (or edited by hand) are
read back at start; ``/v1/members`` and ``members list`` keep answering.
"""

from __future__ import annotations

import sqlite3

import pytest

from shieldwall.client import HubClient
from shieldwall.hub.storage import DB_NAME
from shieldwall.signing import SigningKey

from .conftest import HubProcess, cli_json

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param('{"max_ban": NaN, "allowlist": []}', id="nan"),
        pytest.param('{"max_ban": 36', id="truncated"),
    ],
)
def test_a_bad_policy_row_does_not_break_the_listing_after_restart(
    hub_process: HubProcess, stored: str
) -> None:
    hub = hub_process
    with HubClient(hub.url, name="alpha", key=SigningKey.generate()) as alpha:
        alpha.join(["192.0.2.10"])
        with HubClient(hub.url, admin_token=hub.token) as admin:
            admin.approve("alpha")
        alpha.put_policy({"max_ban": 3600})
    hub.stop()
    db = sqlite3.connect(hub.data / DB_NAME)
    with db:
        db.execute("UPDATE members SET policy = ? WHERE name = 'alpha'", (stored,))
    db.close()
    hub.start()
    with HubClient(hub.url, admin_token=hub.token) as admin:
        (alpha_view,) = [m for m in admin.members()["members"] if m["name"] == "alpha"]
    assert alpha_view["policy"] is None
    assert alpha_view["status"] == "active"
    listed = cli_json("members", "list", "--hub", hub.url, "--token", hub.token)["members"]
    assert [m["name"] for m in listed] == ["alpha"]
