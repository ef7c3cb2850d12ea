"""``shieldwall partners``: write grants, and the TAXII auth the secrets feed.

What partners share with bouncers (secrets shown once, hashes only, errors) is in
test_credentials_cli.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.requests import Request

from shieldwall.cli import main
from shieldwall.interop.partners import Partner, SQLitePartners, partners_path

WRITER = "writer-secret-0123456789abcdef"  # opencti, may write
READER = "reader-secret-0123456789abcdef"  # misp, reads only


def _request(authorization: str) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def _basic(name: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{secret}".encode()).decode()


def test_write_grant_is_listed(hub_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data", str(hub_dir), "--json"]
    assert main(["partners", "add", "opencti", "--write", *data]) == 0
    assert json.loads(capsys.readouterr().out)["can_write"] is True
    assert main(["partners", "add", "misp", *data]) == 0
    assert json.loads(capsys.readouterr().out)["can_write"] is False
    assert main(["partners", "list", *data]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["name"], p["can_write"]) for p in listed] == [("misp", False), ("opencti", True)]


@pytest.fixture
def partners(hub_dir: Path) -> Iterator[SQLitePartners]:
    store = SQLitePartners(partners_path(hub_dir))
    store.add("opencti", WRITER, 0.0, can_write=True)
    store.add("misp", READER, 0.0)
    yield store
    store.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(_basic("opencti", WRITER), Partner("opencti", True), id="basic"),
        pytest.param(f"Bearer {WRITER}", Partner("opencti", True), id="bearer"),
        pytest.param(f"Token {READER}", Partner("misp", False), id="token-reader"),
        pytest.param(_basic("misp", WRITER), None, id="someone-elses-secret"),
        pytest.param(_basic("opencti", WRITER + "x"), None, id="wrong-secret"),
        pytest.param(f"Bearer {'x' * 600}", None, id="oversized-secret"),
        pytest.param("Basic !!!", None, id="not-base64"),
        pytest.param(f"Digest {WRITER}", None, id="unknown-scheme"),
        pytest.param("Bearer ", None, id="empty-bearer"),
        pytest.param("", None, id="no-header"),
    ],
)
def test_taxii_auth(partners: SQLitePartners, header: str, expected: Partner | None) -> None:
    assert partners(_request(header)) == expected


def test_deleted_partner_no_longer_authenticates(
    partners: SQLitePartners, hub_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["partners", "delete", "opencti", "--data", str(hub_dir)]) == 0
    assert partners(_request(f"Bearer {WRITER}")) is None
    assert partners(_request(f"Token {READER}")) == Partner("misp", False)
