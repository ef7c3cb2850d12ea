"""What ``shieldwall bouncers`` and ``shieldwall partners`` share: add, list, delete."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.interop.keys import hash_key
from shieldwall.interop.partners import hash_secret


@dataclass(frozen=True)
class Kind:
    command: str
    secret_field: str  # where ``add --json`` puts the secret
    db: str
    hash: Callable[[str], str]


BOUNCERS = Kind("bouncers", "api_key", "bouncers.sqlite3", hash_key)
PARTNERS = Kind("partners", "secret", "partners.sqlite3", hash_secret)
KINDS = [pytest.param(BOUNCERS, id="bouncers"), pytest.param(PARTNERS, id="partners")]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("kind", KINDS)
def test_secret_is_printed_once_and_only_its_hash_stored(
    hub_dir: Path, capsys: pytest.CaptureFixture[str], kind: Kind
) -> None:
    data = ("--data", str(hub_dir))
    secret = json.loads(_run(capsys, kind.command, "add", "web1", *data, "--json"))[
        kind.secret_field
    ]
    assert len(secret) >= 40
    files = sorted(hub_dir.glob(f"{kind.db}*"))
    assert files, f"{kind.db} was not created"
    raw = b"".join(p.read_bytes() for p in files)
    assert secret.encode() not in raw
    assert kind.hash(secret).encode() in raw
    assert kind.hash(secret).encode() not in (hub_dir / "hub.sqlite3").read_bytes(), (
        "credentials stay out of the hub's own database (one writer)"
    )
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}

    listed = json.loads(_run(capsys, kind.command, "list", *data, "--json"))
    assert [r["name"] for r in listed] == ["web1"]
    assert secret not in json.dumps(listed)

    assert json.loads(_run(capsys, kind.command, "delete", "web1", *data, "--json")) == {
        "deleted": "web1"
    }
    assert json.loads(_run(capsys, kind.command, "list", *data, "--json")) == []


@pytest.mark.parametrize(
    ("kind", "heading"),
    [
        pytest.param(BOUNCERS, "API key for bouncer 'web1' (shown once", id="bouncers"),
        pytest.param(PARTNERS, "secret for TAXII partner 'web1' (shown once", id="partners"),
    ],
)
def test_text_output(
    hub_dir: Path, capsys: pytest.CaptureFixture[str], kind: Kind, heading: str
) -> None:
    data = ("--data", str(hub_dir))
    added = _run(capsys, kind.command, "add", "web1", *data)
    assert heading in added
    secret = added.splitlines()[2].strip()
    raw = b"".join(p.read_bytes() for p in hub_dir.glob(f"{kind.db}*"))
    assert kind.hash(secret).encode() in raw
    listing = _run(capsys, kind.command, "list", *data)
    assert "web1" in listing and time.strftime("%Y-%m-%d", time.gmtime()) in listing
    assert secret not in listing
    singular = kind.command[:-1]
    assert _run(capsys, kind.command, "delete", "web1", *data).strip() == (
        f"{singular} 'web1' deleted"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["bouncers", "add", "fw 1"],
            "bouncer name 'fw 1' is not valid: use 1-64 letters, digits, '.', '_', '@' or '-'",
            id="bouncers-bad-name",
        ),
        pytest.param(
            ["partners", "add", "Open CTI"],
            "partner name 'Open CTI' is not valid: use 1-63 lowercase letters, digits, '.', "
            "'_' or '-', starting with a letter or digit",
            id="partners-bad-name",
        ),
        pytest.param(
            ["partners", "add", "alpha"],
            "partner name 'alpha' is a member's name: give the partner another name",
            id="partners-member-name",
        ),
        pytest.param(
            ["bouncers", "delete", "ghost"],
            "bouncer 'ghost' does not exist: see 'shieldwall bouncers list'",
            id="bouncers-delete-unknown",
        ),
        pytest.param(
            ["partners", "delete", "ghost"],
            "partner 'ghost' does not exist: see 'shieldwall partners list'",
            id="partners-delete-unknown",
        ),
    ],
)
def test_cli_errors(
    hub_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([*argv, "--data", str(hub_dir)]) == 2
    assert capsys.readouterr().err.strip() == f"shieldwall: error: {message}"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        pytest.param(
            BOUNCERS,
            "bouncer 'web1' exists already: delete it first or pick a name",
            id="bouncers",
        ),
        pytest.param(
            PARTNERS,
            "partner 'web1' exists already: delete it first or pick another name",
            id="partners",
        ),
    ],
)
def test_duplicate_is_refused(
    hub_dir: Path, capsys: pytest.CaptureFixture[str], kind: Kind, message: str
) -> None:
    _run(capsys, kind.command, "add", "web1", "--data", str(hub_dir))
    assert main([kind.command, "add", "web1", "--data", str(hub_dir)]) == 2
    assert capsys.readouterr().err.strip() == f"shieldwall: error: {message}"


@pytest.mark.parametrize("action", ["list", "add", "delete"])
@pytest.mark.parametrize("kind", KINDS)
def test_missing_hub_dir_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: Kind, action: str
) -> None:
    argv = [kind.command, action, *(["web1"] if action != "list" else [])]
    assert main([*argv, "--data", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"shieldwall: error: '{tmp_path / 'nope'}' holds no hub database (hub.sqlite3): "
        "give the --data directory made by 'shieldwall hub init'"
    )
    assert not (tmp_path / "nope").exists()
