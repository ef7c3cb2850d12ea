"""The agent's configuration file: what it accepts, and each refusal's message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.config import hub_addresses, load_agent_config, parse_config

BASE = {
    "agent": {
        "name": "web-1",
        "hub": "http://127.0.0.1:8470",
        "key": "member.key",
        "data": "state",
        "addresses": ["192.0.2.10"],
    },
    "sources": [{"path": "auth.log"}],
    "enforcer": {"backend": "file", "path": "blocklist.txt"},
}


def with_(section: str, **changes: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else list(v)) for k, v in BASE.items()}
    if section == "sources":
        data["sources"] = [changes]
    else:
        data[section].update(changes)
    return data


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    config = parse_config(BASE, "agent.toml", tmp_path)
    assert config.key == tmp_path / "member.key"
    assert config.data == tmp_path / "state"
    assert config.sources[0].path == tmp_path / "auth.log"
    assert config.enforcer["path"] == str(tmp_path / "blocklist.txt")
    assert config.addresses == ("192.0.2.10",)
    assert "192.0.2.10" in config.policy.protected
    assert "127.0.0.1" in config.policy.protected, "the hub is never blocked"
    assert config.ca is None


@pytest.mark.parametrize(
    ("data", "words"),
    [
        pytest.param(
            {"agnet": {}}, "unknown key 'agnet': did you mean 'agent'?", id="typo-section"
        ),
        pytest.param({"sources": []}, "missing [agent] section", id="no-agent"),
        pytest.param(with_("agent", nmae="x"), "did you mean 'name'?", id="typo-key"),
        pytest.param(with_("agent", name=""), "[agent].name = ''", id="empty-name"),
        pytest.param(with_("agent", hub="127.0.0.1:8470"), "http:// or https://", id="hub-not-url"),
        pytest.param(with_("agent", hub="http://[::1"), "'http://[::1' must be an", id="hub-v6"),
        pytest.param(with_("agent", hub="http://:8470"), "with a host", id="hub-no-host"),
        pytest.param(
            with_("agent", hub="http://" + "a" * 70 + ".org"), "with a host", id="hub-bad-name"
        ),
        pytest.param(with_("agent", hub="http://h:99999"), "'http://h:99999'", id="hub-port"),
        pytest.param(with_("agent", hub=[]), "must be the hub's URL", id="hub-empty-list"),
        pytest.param(
            with_("agent", stream_timeout=0.5), "stream_timeout = 0.5", id="stream-timeout-low"
        ),
        pytest.param(
            with_("agent", hub=["http://a:1", 7]), "must be the hub's URL", id="hub-list-not-text"
        ),
        pytest.param(
            with_("agent", hub="http://a:1,,http://b:2"), "must be the hub's URL", id="hub-gap"
        ),
        pytest.param(
            with_("agent", hub=["http://a:1", "b:2"]),
            "'b:2' must be an http",
            id="hub-node-not-url",
        ),
        pytest.param(with_("agent", addresses=["999.1.1.1"]), "'999.1.1.1'", id="bad-address"),
        pytest.param(
            with_("agent", addresses="192.0.2.1"), "must be a list", id="addresses-string"
        ),
        pytest.param(with_("agent", poll_interval=0), "poll_interval = 0", id="poll-zero"),
        pytest.param(with_("agent", batch_size=10**6), "batch_size", id="batch-too-big"),
        pytest.param(with_("agent", ca="missing.pem"), "does not exist", id="missing-ca"),
        pytest.param(
            with_("agent", resync_interval=1), "resync_interval = 1", id="resync-too-often"
        ),
        pytest.param(with_("sources"), "exactly one of 'path'", id="source-empty"),
        pytest.param(
            with_("sources", path="a.log", journald=["x"]), "exactly one of", id="source-both"
        ),
        pytest.param(
            with_("sources", journald="sshd"), "list of journalctl matches", id="journald-str"
        ),
        pytest.param(
            with_("sources", path="a", from_start="yes"), "true or false", id="from-start"
        ),
        pytest.param({**BASE, "enforcer": "nft"}, "[enforcer] must be a table", id="enforcer-str"),
        pytest.param(
            {**BASE, "policy": {"max_bann": "1d"}}, "did you mean 'max_ban'", id="policy-typo"
        ),
        pytest.param({**BASE, "detect": {"bogus": 1}}, "unknown key 'bogus'", id="detect-typo"),
        pytest.param(with_("agent", key=""), "[agent].key = ''", id="empty-key"),
        pytest.param(
            {"agent": {"name": "a", "hub": "http://h:1", "key": "k"}},
            "[agent].data = None",
            id="no-data",
        ),
        pytest.param(with_("agent", name=7), "[agent].name = 7 must be a non-empty", id="name-int"),
        pytest.param(with_("agent", batch_size=True), "batch_size = True", id="batch-bool"),
        pytest.param(with_("agent", poll_interval="fast"), "poll_interval = 'fast'", id="poll-str"),
        pytest.param(with_("agent", addresses=["192.0.2.0/33"]), "192.0.2.0/33", id="bad-prefix"),
        pytest.param({**BASE, "sources": {"path": "a"}}, "[[sources]] tables", id="sources-table"),
        pytest.param({**BASE, "sources": ["auth.log"]}, "must be a table", id="source-str"),
        pytest.param(with_("sources", paht="a"), "did you mean 'path'?", id="source-typo"),
        pytest.param(
            with_("sources", journald=["_COMM=sshd", 3]),
            "list of journalctl matches",
            id="journald-non-str",
        ),
        pytest.param({**BASE, "fail2ban": "jail.conf"}, "[fail2ban] must be a table", id="f2b-str"),
        pytest.param(
            {**BASE, "fail2ban": {"jail": "nowhere/jail.conf"}},
            "jail.conf: file not found",
            id="f2b-missing",
        ),
        pytest.param(
            {**BASE, "policy": {"max_ban": "7 days"}},
            "max_ban = '7 days' is invalid",
            id="policy-value",
        ),
    ],
)
def test_refusals_name_the_value_and_fix(tmp_path: Path, data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_config(data, "agent.toml", tmp_path)
    assert words in str(info.value)
    assert str(info.value).startswith("agent.toml")


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist: check --config"):
        load_agent_config(tmp_path / "nowhere.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[agent\nname=")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_agent_config(bad)


def test_ca_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "hub-ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    config = parse_config(with_("agent", ca="hub-ca.pem"), "agent.toml", tmp_path)
    assert config.ca == tmp_path / "hub-ca.pem"


def test_every_refusal_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        parse_config(with_("agent", poll_interval=0), "agent.toml", tmp_path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "hub",
    [
        pytest.param(["http://127.0.0.1:8470", "http://127.0.0.2:8470"], id="list"),
        pytest.param("http://127.0.0.1:8470, http://127.0.0.2:8470", id="comma-list"),
    ],
)
def test_a_hub_of_several_nodes_is_a_list_and_every_node_is_protected(
    hub: str | list[str],
) -> None:
    config = parse_config(with_("agent", hub=hub), "agent.toml", Path("."))
    assert config.hub == "http://127.0.0.1:8470,http://127.0.0.2:8470"
    assert {"127.0.0.1", "127.0.0.2"} <= set(config.policy.hubs)


def test_hub_names_are_resolved_and_unresolvable_ones_protect_nothing_yet() -> None:
    assert "127.0.0.1" in hub_addresses("http://localhost:8470")
    assert hub_addresses("https://[2001:db8::1]:8470") == ("2001:db8::1",)
    assert hub_addresses("http://hub.invalid:8470") == ()  # the agent resolves it again later
