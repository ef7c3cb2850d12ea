"""Choosing the store: the ``store`` setting, ``hub init --store``, SHIELDWALL_STORE,
and URLs shown without their passwords."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from shieldwall.core.treaty import template_text
from shieldwall.hub.app import open_secretariat
from shieldwall.hub.settings import HubSettings, settings_from
from shieldwall.hub.setup import init_hub
from shieldwall.hub.storage import STORE_ENV, store_spec
from shieldwall.store.postgres import PostgresStore
from shieldwall.store.sqlite import SQLiteStore
from shieldwall.store.urls import redact, where
from tests.conftest import refused

from .pg import scratch_schema

DOWN = "postgresql://sw:pa%3Ass@127.0.0.1:1/alliance"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db", id="userinfo"),
        pytest.param("postgres://u@h/db", "postgres://u@h/db", id="no-password"),
        pytest.param(
            "postgresql://u@h/db?sslmode=require&password=pw",
            "postgresql://u@h/db?sslmode=require&password=***",
            id="query-password",
        ),
        pytest.param("postgresql://u:p/w@x@h/db", "postgresql://u:***@h/db", id="unescaped-at"),
        pytest.param("host=h password=pw", "host=h password=***", id="key-value"),
    ],
)
def test_redact_hides_passwords(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_where_names_host_and_database() -> None:
    assert where(DOWN) == "127.0.0.1:1/alliance"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param("mysql://u:pw@h/db", "store 'mysql://u:***@h/db' is neither", id="other-db"),
        pytest.param("", 'is neither "sqlite" nor a PostgreSQL URL', id="empty"),
        pytest.param(5, "must be a str", id="not-text"),
    ],
)
def test_a_bad_store_setting_is_refused(value: object, words: str) -> None:
    with pytest.raises(ValueError, match=r"hub\.toml") as refused:
        settings_from({"store": value}, "hub.toml")
    assert words in str(refused.value)
    assert "pw" not in str(refused.value)


def test_the_store_setting_defaults_to_sqlite_and_never_shows_in_repr() -> None:
    assert HubSettings().store == "sqlite"
    settings = settings_from({"store": "postgresql://u:pw@h/db"}, "hub.toml")
    assert settings.store == "postgresql://u:pw@h/db"
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, "sqlite", id="unset"),
        pytest.param({STORE_ENV: " "}, "sqlite", id="blank"),
        pytest.param({STORE_ENV: "postgresql://h/db"}, "postgresql://h/db", id="override"),
    ],
)
def test_shieldwall_store_overrides_the_setting(environ: dict[str, str], expected: str) -> None:
    assert store_spec("sqlite", environ) == expected


def test_an_unreachable_server_is_one_cli_line_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "hub"
    err = refused(
        ["hub", "init", "--data", str(data), "--template", "nato", "--store", DOWN], capsys
    )
    assert "cannot connect to PostgreSQL at 127.0.0.1:1/alliance" in err
    assert "start the server or fix the store URL" in err
    assert "pa%3Ass" not in err and "pa:ss" not in err
    assert not data.exists()


@pytest.mark.postgres
def test_init_records_the_store_and_serve_opens_it(pg_server: str, tmp_path: Path) -> None:
    with scratch_schema(pg_server) as url:
        data = tmp_path / "hub"
        token = init_hub(data, template_text("nato"), "nato", store=url)
        toml = data / "hub.toml"
        assert toml.read_text() == f'store = "{url}"\n'
        assert stat.S_IMODE(toml.stat().st_mode) == 0o600
        assert not (data / "hub.sqlite3").exists()
        with psycopg.connect(url) as db:
            keys = {r[0] for r in db.execute("SELECT key FROM meta")}
        assert keys == {"treaty", "admin_token_sha256"}

        sec = open_secretariat(data)
        try:
            assert isinstance(sec.store, PostgresStore)
            assert sec.treaty.name == "nato" and sec.check_admin(token)
            # Several nodes share the records (the lease picks the one that writes).
            other = open_secretariat(data)
            assert other.treaty.digest == sec.treaty.digest
            other.store.close()
        finally:
            sec.store.close()

        with pytest.raises(ValueError, match="already holds a hub: use another --data"):
            init_hub(data, template_text("nato"), "nato", store=url)
        with pytest.raises(ValueError, match="already holds a hub's records: use another"):
            init_hub(tmp_path / "other", template_text("nato"), "nato", store=url)
        assert not (tmp_path / "other").exists()


@pytest.mark.postgres
def test_shieldwall_store_picks_postgresql_for_init_and_serve(
    pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with scratch_schema(pg_server) as url:
        monkeypatch.setenv(STORE_ENV, url)
        data = tmp_path / "hub"
        init_hub(data, template_text("nato"), "nato")
        assert not (data / "hub.toml").exists(), "a URL from the environment is not written"
        sec = open_secretariat(data)
        try:
            assert isinstance(sec.store, PostgresStore)
        finally:
            sec.store.close()
        monkeypatch.delenv(STORE_ENV)
        with pytest.raises(ValueError, match="is not a hub data directory"):
            open_secretariat(data)


@pytest.mark.postgres
def test_a_store_without_a_treaty_is_refused_at_start(pg_server: str, tmp_path: Path) -> None:
    with scratch_schema(pg_server) as url:
        PostgresStore(url, lock_wait=0).close()
        (tmp_path / "hub.toml").write_text(f'store = "{url}"\n')
        with pytest.raises(ValueError, match="has no treaty: run 'shieldwall hub init"):
            open_secretariat(tmp_path)


def test_sqlite_stays_the_default(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    init_hub(data, template_text("nato"), "nato", store="sqlite")
    assert (data / "hub.sqlite3").exists() and not (data / "hub.toml").exists()
    sec = open_secretariat(data)
    try:
        assert isinstance(sec.store, SQLiteStore)
    finally:
        sec.store.close()
