"""``shieldwall treaty amend`` on a running hub, and ``treaty show`` of its history."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.core.treaty import load_treaty, template_text

from .conftest import HubProcess, cli, cli_json

pytestmark = pytest.mark.e2e


def test_amend_a_running_alliance(hub_process: HubProcess, tmp_path: Path) -> None:
    hub = hub_process
    text = template_text("nato").replace("version = 1", "version = 2", 1)
    amended = tmp_path / "nato-v2.toml"
    amended.write_text(text)
    admin = ("--hub", hub.url, "--admin-token", hub.token)

    result = cli("treaty", "amend", str(amended), *admin)
    digest = load_treaty(text).digest
    assert result.stdout.strip() == (
        f"treaty amended: nato@1 -> nato@2 (sha256:{digest}); later decisions cite it"
    )

    again = cli("treaty", "amend", str(amended), *admin, check=False)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "shieldwall: error: amendment has version 2, not above the version in force "
        "(nato@2): set version = 3 in [treaty]"
    )
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("quorum = 2", 'quorum = "two"'))
    refused = cli("treaty", "amend", str(broken), *admin, check=False)
    assert refused.returncode == 2 and "quorum" in refused.stderr and "'two'" in refused.stderr

    hub.stop()
    hub.start()  # the amendment is a recorded input: replayed at start
    reader = ("--hub", hub.url, "--token", hub.token)  # the admin token may read every view
    shown = cli_json("treaty", "show", *reader)
    assert shown["version"] == 2
    assert [h["label"] for h in shown["history"]] == ["nato@1", "nato@2"]
    plain = cli("treaty", "show", *reader).stdout.splitlines()
    assert plain[0] == f"nato v2  sha256:{digest}"
    assert plain[2].startswith("  nato@1  sha256:") and plain[2].endswith("founding")
    assert plain[3].startswith(f"  nato@2  sha256:{digest}  since 20")
