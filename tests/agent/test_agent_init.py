"""``shieldwall agent init``: discovery below --root, the proposed configuration (read
back by the agent's own parser), the key, the questions, refusals, and a real join."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from shieldwall.agent.config import load_agent_config
from shieldwall.agent.discover import (
    SSHD_JOURNAL,
    Discovery,
    FoundJails,
    FoundJournal,
    FoundLog,
    discover,
    parse_ip_addr_json,
)
from shieldwall.agent.proposal import Proposal, choose_enforcer, render, toml_string
from shieldwall.cli import main
from tests.conftest import refused

JAIL_CONF = """\
[DEFAULT]
backend = auto
maxretry = 5
[sshd]
logpath = /var/log/auth.log
[sshd-journal]
filter = sshd
backend = systemd
[postfix]
logpath = /var/log/mail.log
[recidive]
logpath = /var/log/fail2ban.log
[web]
logpath = /var/log/web/*.log
[nothing]
logpath = /var/log/nothing/*.log
[disabled]
logpath = /var/log/other.log
[nofilter]
filter = missing
logpath = /var/log/other.log
"""
FILTER = "[Definition]\nfailregex = ^<HOST> failed$\n"


def make_tree(root: Path, *files: str, jails: str | None = None) -> Path:
    """A server's file system below ``root``: ``files`` (paths below it) exist."""
    root.mkdir(parents=True, exist_ok=True)
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    if jails is not None:
        conf = root / "etc/fail2ban"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "jail.conf").write_text(JAIL_CONF)
        (conf / "jail.local").write_text(jails)
        (conf / "filter.d").mkdir(exist_ok=True)
        for name in ("sshd", "postfix", "recidive", "web", "nothing"):
            (conf / "filter.d" / f"{name}.conf").write_text(FILTER)
    return root


def logs(found: Discovery) -> list[tuple[str, str]]:
    return [(str(log.path), log.service) for log in found.logs]


@pytest.mark.parametrize(
    ("files", "expected_logs", "journal"),
    [
        pytest.param(
            ["var/log/auth.log", "usr/sbin/sshd", "usr/bin/journalctl"],
            [("/var/log/auth.log", "sshd")],
            False,
            id="debian-sshd-file-wins-over-journal",
        ),
        pytest.param(["var/log/secure"], [("/var/log/secure", "sshd")], False, id="rhel-secure"),
        pytest.param(["usr/sbin/sshd", "usr/bin/journalctl"], [], True, id="sshd-journal-only"),
        pytest.param(["usr/sbin/sshd"], [], False, id="sshd-without-journald"),
        pytest.param(
            [
                "var/log/nginx/access.log",
                "var/log/nginx/shop.access.log",
                "var/log/nginx/access.log.1",
                "var/log/nginx/error.log",
            ],
            [("/var/log/nginx/access.log", "nginx"), ("/var/log/nginx/shop.access.log", "nginx")],
            False,
            id="nginx-vhosts-not-rotated-or-error",
        ),
        pytest.param(
            ["var/log/apache2/access.log", "var/log/httpd/access_log"],
            [("/var/log/apache2/access.log", "apache"), ("/var/log/httpd/access_log", "apache")],
            False,
            id="apache-debian-and-rhel",
        ),
        pytest.param(
            ["var/log/mail.log", "var/log/dovecot.log"],
            [("/var/log/mail.log", "postfix, dovecot"), ("/var/log/dovecot.log", "dovecot")],
            False,
            id="mail",
        ),
        pytest.param(["var/log/syslog"], [], False, id="nothing-known"),
    ],
)
def test_discovery_finds_the_logs_the_scenarios_read(
    tmp_path: Path, files: list[str], expected_logs: list[tuple[str, str]], journal: bool
) -> None:
    found = discover(make_tree(tmp_path, *files))
    assert logs(found) == expected_logs
    assert found.journal == ((FoundJournal("sshd", SSHD_JOURNAL),) if journal else ())
    assert found.fail2ban is None
    assert found.empty == (not expected_logs and not journal)


NO_FILTER = (
    "its filter cannot run here: {root}/etc/fail2ban/filter.d/missing.conf: "
    "file not found: check the path"
)
ENABLE = "\n".join(
    f"[{j}]\nenabled = true"
    for j in ("sshd", "sshd-journal", "postfix", "recidive", "web", "nothing", "nofilter")
)


@pytest.mark.parametrize(
    ("files", "run", "skipped"),
    [
        pytest.param(
            ["var/log/auth.log", "var/log/mail.log", "var/log/web/a.log"],
            ("recidive", "web"),
            {
                "sshd": "the built-in scenarios already read /var/log/auth.log",
                "sshd-journal": "the built-in scenarios already read sshd's messages",
                "postfix": "the built-in scenarios already read /var/log/mail.log",
                "nothing": "its logpath '/var/log/nothing/*.log' matches no file",
                "nofilter": NO_FILTER,
            },
            id="covered-by-built-in-sources",
        ),
        pytest.param(
            ["var/log/web/a.log"],
            ("sshd", "sshd-journal", "postfix", "recidive", "web"),
            {
                "nothing": "its logpath '/var/log/nothing/*.log' matches no file",
                "nofilter": NO_FILTER,
            },
            id="nothing-built-in-so-jails-run",
        ),
    ],
)
def test_enabled_jails_run_unless_the_built_in_sources_read_their_logs(
    tmp_path: Path, files: list[str], run: tuple[str, ...], skipped: dict[str, str]
) -> None:
    found = discover(make_tree(tmp_path, *files, jails=ENABLE))
    reasons = tuple((jail, why.format(root=tmp_path)) for jail, why in skipped.items())
    assert found.fail2ban == FoundJails(PurePosixPath("/etc/fail2ban/jail.conf"), run, reasons)


def test_a_broken_jail_conf_is_a_note_not_a_failure(tmp_path: Path) -> None:
    found = discover(make_tree(tmp_path, jails="[sshd]\nenabled = perhaps\n"))
    assert found.fail2ban is None
    assert len(found.notes) == 1
    assert "enabled = 'perhaps' is not true or false" in found.notes[0]


IP_JSON = json.dumps(
    [
        {"ifname": "lo", "addr_info": [{"local": "127.0.0.1"}, {"local": "::1"}]},
        {
            "ifname": "eth0",
            "addr_info": [
                {"local": "192.0.2.10", "prefixlen": 24},
                {"local": "2001:db8::10", "prefixlen": 64},
                {"local": "fe80::1", "prefixlen": 64},
            ],
        },
        {"ifname": "eth1", "addr_info": [{"local": "10.0.0.5"}, {"local": "not an address"}]},
        {"ifname": "odd", "addr_info": "nonsense"},
    ]
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(IP_JSON, ["10.0.0.5", "192.0.2.10", "2001:db8::10"], id="global-only"),
        pytest.param("", [], id="empty"),
        pytest.param("{not json", [], id="not-json"),
        pytest.param('{"addr_info": []}', [], id="not-a-list"),
    ],
)
def test_host_addresses_from_ip_json(text: str, expected: list[str]) -> None:
    assert parse_ip_addr_json(text) == expected


@pytest.mark.parametrize(
    ("tools", "backend"),
    [
        pytest.param(["usr/sbin/nft", "usr/sbin/ipset"], "nftables", id="nft-first"),
        pytest.param(["sbin/ipset"], "ipset", id="ipset"),
        pytest.param([], "dryrun", id="none"),
    ],
)
def test_enforcer_follows_the_tools_installed(
    tmp_path: Path, tools: list[str], backend: str
) -> None:
    assert choose_enforcer(make_tree(tmp_path, *tools)) == backend


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('a "quoted" \\ name', id="quote-backslash"),
        pytest.param("tab\tnewline\ncontrol\x01del\x7f", id="control-and-del"),
        pytest.param("ünïcødé ✓ 😀", id="unicode"),
    ],
)
def test_toml_strings_read_back_as_written(text: str) -> None:
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


def test_rendered_configuration_is_what_the_agent_reads(tmp_path: Path) -> None:
    found = Discovery(
        logs=(FoundLog(PurePosixPath("/var/log/auth.log"), "sshd"),),
        journal=(FoundJournal("sshd", SSHD_JOURNAL),),
        fail2ban=FoundJails(PurePosixPath(tmp_path / "jail.conf"), (), (("sshd", "already read"),)),
        notes=(),
    )
    proposal = Proposal(
        name="web-1",
        hub="http://127.0.0.1:8470",
        key=tmp_path / "agent.key",
        data=tmp_path / "state",
        addresses=("192.0.2.10", "2001:db8::/64"),
        found=found,
        enforcer="dryrun",
    )
    path = tmp_path / "agent.toml"
    path.write_text(render(proposal))
    assert "# fail2ban jail sshd is not run: already read" in path.read_text()
    config = load_agent_config(path)
    assert (config.name, config.hub, config.key, config.data) == (
        "web-1",
        "http://127.0.0.1:8470",
        tmp_path / "agent.key",
        tmp_path / "state",
    )
    assert config.addresses == ("192.0.2.10", "2001:db8::/64")
    assert [(s.path, s.journald) for s in config.sources] == [
        (Path("/var/log/auth.log"), None),
        (None, SSHD_JOURNAL),
    ]
    assert dict(config.enforcer) == {"backend": "dryrun"}


def init_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "agent",
        "init",
        "--root",
        str(tmp_path / "root"),
        "--config",
        str(tmp_path / "etc" / "agent.toml"),
        "--data",
        str(tmp_path / "state"),
        *extra,
    ]


SCRIPTED = ("--hub", "http://127.0.0.1:9", "--name", "web-1", "--address", "192.0.2.10")


def test_init_for_scripts_writes_key_and_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tree(tmp_path / "root", "var/log/auth.log", "var/log/nginx/access.log", "usr/sbin/nft")
    args = init_args(tmp_path, *SCRIPTED, "--yes", "--no-join", "--json")
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    key = tmp_path / "etc" / "agent.key"
    assert (result["config"], result["key"], result["joined"]) == (
        str(tmp_path / "etc" / "agent.toml"),
        str(key),
        False,
    )
    assert key.stat().st_mode & 0o777 == 0o600
    config = load_agent_config(tmp_path / "etc" / "agent.toml")
    assert [str(s.path) for s in config.sources] == [
        "/var/log/auth.log",
        "/var/log/nginx/access.log",
    ]
    assert (config.name, config.key, config.addresses) == ("web-1", key, ("192.0.2.10",))
    assert config.enforcer["backend"] == "nftables"
    # a second run keeps what is there and says so
    message = refused(args, capsys)
    assert "agent.toml' exists: edit it, or remove it to start again" in message
    (tmp_path / "etc" / "agent.toml").unlink()
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["key_created"], again["public_key"]) == (False, result["public_key"])


def test_init_asks_what_it_was_not_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "root", "var/log/mail.log")
    monkeypatch.delenv("SHIELDWALL_HUB", raising=False)
    answers = "http://127.0.0.1:9/\nmx-1\n192.0.2.25, 2001:db8::25\nyes\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(answers))
    assert main(init_args(tmp_path, "--no-join", "--enforcer", "dryrun")) == 0
    captured = capsys.readouterr()
    assert "hub URL" in captured.err and "member name [" in captured.err
    assert "log /var/log/mail.log (postfix, dovecot)" in captured.out
    key = tmp_path / "etc" / "agent.key"
    assert (
        f"not joined yet: shieldwall join --hub http://127.0.0.1:9 --name mx-1 --key {key} "
        "--address 192.0.2.25 --address 2001:db8::25"
    ) in captured.out
    assert f"start it: shieldwall agent run --config {tmp_path / 'etc' / 'agent.toml'}" in (
        captured.out
    )
    config = load_agent_config(tmp_path / "etc" / "agent.toml")
    assert (config.hub, config.name) == ("http://127.0.0.1:9", "mx-1")
    assert config.addresses == ("192.0.2.25", "2001:db8::25")


def test_init_answered_no_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "root")
    monkeypatch.setattr("sys.stdin", io.StringIO("no\n"))
    assert main(init_args(tmp_path, *SCRIPTED, "--no-join")) == 1
    assert "nothing written" in capsys.readouterr().err
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize(
    ("extra", "stdin", "message"),
    [
        pytest.param(
            ("--yes", "--name", "a"),
            "",
            "--yes needs the hub: pass --hub URL",
            id="yes-without-hub",
        ),
        pytest.param(
            ("--hub", "ftp://h", "--yes"),
            "",
            "hub URL 'ftp://h' is not an http:// or https:// URL with a host",
            id="bad-hub",
        ),
        pytest.param(
            ("--hub", "http://h:99999", "--yes"), "", "'http://h:99999' is not", id="bad-port"
        ),
        pytest.param(
            ("--hub", "http://a:1,ftp://b", "--yes"),
            "",
            "hub URL 'ftp://b' is not an http:// or https:// URL with a host",
            id="bad-hub-node",
        ),
        pytest.param(
            ("--hub", "http://h", "--name", "Web 1", "--yes"),
            "",
            "member name 'Web 1' is not valid: use 1-63 lowercase letters",
            id="bad-name",
        ),
        pytest.param(
            ("--hub", "http://h", "--name", "a", "--address", "300.1.1.1", "--yes"),
            "",
            "address '300.1.1.1': ",
            id="bad-address",
        ),
        pytest.param(
            ("--hub", "http://h", "--name", "a"),
            "",
            "no answer (this server's own addresses, never blocked): pass --address",
            id="end-of-input",
        ),
        pytest.param(
            ("--hub", "http://h", "--name", "a"),
            " , \n",
            "no address for this member: give the server's own addresses with --address",
            id="no-address",
        ),
        pytest.param(
            ("--hub", "http://h", "--ca", "/nonexistent/ca.pem", "--yes"),
            "",
            "--ca '/nonexistent/ca.pem' does not exist",
            id="missing-ca",
        ),
    ],
)
def test_init_refusals_name_the_value_and_the_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    make_tree(tmp_path / "root")
    monkeypatch.delenv("SHIELDWALL_HUB", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(init_args(tmp_path, *extra, "--no-join")) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # after the questions asked, if any, one line: the error
    assert err.endswith("\n") and err.splitlines()[-1].startswith("shieldwall: error: "), err
    assert message in err.splitlines()[-1]
    assert not (tmp_path / "etc").exists()


def test_root_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = refused(init_args(tmp_path, *SCRIPTED, "--yes"), capsys)
    assert "is not a directory: give the server's root, e.g. /" in message


def test_agent_run_reads_etc_shieldwall_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    from shieldwall.agent.paths import DEFAULT_CONFIG

    if DEFAULT_CONFIG.exists():
        pytest.skip(f"{DEFAULT_CONFIG} exists on this machine")
    message = refused(["agent", "run"], capsys)
    assert "config file '/etc/shieldwall/agent.toml' does not exist" in message
    assert "'shieldwall agent init'" in message


def test_a_failed_join_writes_no_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shieldwall.procs import free_port

    make_tree(tmp_path / "root", "var/log/auth.log")
    hub = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    args = init_args(tmp_path, "--hub", hub, "--name", "web-1", "--address", "192.0.2.10", "-y")
    message = refused(args, capsys)
    assert f"joining {hub} failed: hub at {hub} is unreachable" in message
    assert "no configuration written (the key " in message
    assert not (tmp_path / "etc" / "agent.toml").exists()
    assert (tmp_path / "etc" / "agent.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.e2e
def test_init_joins_a_real_hub(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from shieldwall.client import HubClient
    from shieldwall.procs import free_port, start_hub, stop

    data = tmp_path / "hub"
    assert main(["hub", "init", "--data", str(data), "--template", "nato", "--json"]) == 0
    token = json.loads(capsys.readouterr().out)["admin_token"]
    port = free_port()
    proc = start_hub(data, port, tmp_path / "hub.log")
    try:
        url = f"http://127.0.0.1:{port}"
        make_tree(tmp_path / "root", "var/log/auth.log")
        args = init_args(tmp_path, "--hub", url, "--name", "web-1", "--address", "192.0.2.10")
        assert main([*args, "--yes", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert (result["joined"], result["status"]) == (True, "pending")
        with HubClient(url, admin_token=token) as admin:
            admin.approve("web-1")
            members = {m["name"]: m for m in admin.members()["members"]}
        assert members["web-1"]["status"] == "active"
        assert members["web-1"]["addresses"] == ["192.0.2.10"]
    finally:
        stop(proc)
