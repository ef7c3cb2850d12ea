"""``shieldwall bouncers`` and ``shieldwall feeds export`` against a real hub data directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.core.model import Revocation
from shieldwall.interop.keys import SQLiteBouncerKeys
from shieldwall.store.sqlite import SQLiteStore


@pytest.fixture
def data_dir(tmp_path: Path, decide) -> Path:
    store = SQLiteStore(tmp_path / "hub.sqlite3")
    now = time.time()
    with store.transaction():
        store.put_decisions(
            [
                decide(1, "203.0.113.9", issued_at=now - 5),
                decide(2, "198.51.100.0/24", issued_at=now - 5),
                decide(3, "192.0.2.1", issued_at=now - 5),
                decide(4, "192.0.2.2", issued_at=now - 7200, ttl=60),
            ]
        )
        store.put_revocations([Revocation(3, "192.0.2.1", now - 1, "alpha", "appeal", "appeal")])
    store.close()
    return tmp_path


def test_bouncer_key_checks_and_lists_its_member(data_dir, capsys) -> None:
    """The key printed by ``bouncers add`` is the one the hub accepts (see also
    test_credentials_cli.py for what bouncers share with partners)."""
    add = ["bouncers", "add", "fw1", "--member", "alpha", "--data", str(data_dir), "--json"]
    assert main(add) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["member"] == "alpha"
    keys = SQLiteBouncerKeys(data_dir / "bouncers.sqlite3")
    try:
        bouncer = keys.check(added["api_key"])
        assert bouncer is not None and (bouncer.name, bouncer.member) == ("fw1", "alpha")
        assert keys.check(added["api_key"] + "x") is None
        keys.record_pull("fw1", 7, 1_700_000_000.0)
    finally:
        keys.close()

    assert main(["bouncers", "list", "--data", str(data_dir), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(b["name"], b["member"], b["last_pull"]) for b in listed] == [
        ("fw1", "alpha", 1_700_000_000.0)
    ]


def test_feeds_export_from_data_dir_skips_revoked_and_expired(data_dir, capsys) -> None:
    assert main(["feeds", "export", "txt", "--data", str(data_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == ["198.51.100.0/24", "203.0.113.9"]


def test_feeds_export_writes_a_file(data_dir, tmp_path) -> None:
    out = tmp_path / "out" / "block.conf"
    out.parent.mkdir()
    args = [
        "feeds",
        "export",
        "fail2ban",
        "--data",
        str(data_dir),
        "--jail",
        "sshd",
        "-o",
        str(out),
    ]
    assert main(args) == 0
    assert out.read_text().splitlines()[-1] == (
        "fail2ban-client set sshd banip 198.51.100.0/24 203.0.113.9"
    )
    assert [p.name for p in out.parent.iterdir()] == ["block.conf"]


def test_feeds_export_from_an_unreachable_hub(capsys) -> None:
    assert main(["feeds", "export", "txt", "--hub", "http://127.0.0.1:9", "--timeout", "2"]) == 2
    assert "cannot reach hub http://127.0.0.1:9" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param(["--jail", "ssh d"], "jail 'ssh d' is not valid", id="jail"),
        pytest.param(["--set=9x"], "set name '9x' is not valid", id="set"),
        pytest.param(["--variable", "a-b"], "nginx variable 'a-b' may not contain '-'", id="var"),
    ],
)
def test_feeds_export_refuses_bad_names(data_dir, capsys, option, message) -> None:
    assert main(["feeds", "export", "nft", "--data", str(data_dir), *option]) == 2
    assert message in capsys.readouterr().err


def test_feeds_export_from_a_directory_without_a_hub(tmp_path, capsys) -> None:
    assert main(["feeds", "export", "txt", "--data", str(tmp_path / "nothing")]) == 2
    assert "holds no hub database (hub.sqlite3)" in capsys.readouterr().err
