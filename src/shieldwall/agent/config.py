"""The agent's configuration file (TOML), validated at start-up.

```toml
[agent]
name = "web-1"
hub = "http://10.0.0.1:8470"
key = "/etc/shieldwall/web-1.key"
data = "/var/lib/shieldwall"           # outbox and log positions
addresses = ["192.0.2.10"]             # this member's own addresses: never blocked

[[sources]]
path = "/var/log/auth.log"             # or: journald = ["_SYSTEMD_UNIT=ssh.service"]

[detect]                               # thresholds per scenario (see docs/detection.md)
[fail2ban]                             # jail = "/etc/fail2ban/jail.conf": run its jails
[enforcer]                             # backend = "nftables" | "ipset" | "file" | "dryrun"
[policy]                               # local policy (see docs/enforcement.md)
```
Every error names the key, the bad value and what to write instead.
"""

from __future__ import annotations

import difflib
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shieldwall.agent.detect.config import DetectConfig, load_config
from shieldwall.agent.detect.fail2ban import FilterRule
from shieldwall.agent.jails import load_jail_sources
from shieldwall.agent.policy import Policy, load_policy
from shieldwall.core.addresses import normalise, parse_network

SECTIONS = {"agent", "sources", "detect", "fail2ban", "enforcer", "policy"}
AGENT_KEYS = {
    "name",
    "hub",
    "key",
    "data",
    "addresses",
    "poll_interval",
    "batch_size",
    "ca",
    "resync_interval",
    "stream_timeout",
    "evidence_interval",
}
SOURCE_KEYS = {"path", "journald", "from_start"}


@dataclass(frozen=True)
class SourceConfig:
    path: Path | None = None
    journald: tuple[str, ...] | None = None
    from_start: bool = False
    rule: FilterRule | None = None  # a fail2ban jail's filter; None: the built-in scenarios

    @property
    def label(self) -> str:
        where = (
            str(self.path) if self.path is not None else "journald:" + " ".join(self.journald or ())
        )
        return where if self.rule is None else f"{self.rule.scenario}:{where}"


@dataclass(frozen=True)
class AgentConfig:
    name: str
    hub: str
    key: Path
    data: Path
    addresses: tuple[str, ...]
    sources: tuple[SourceConfig, ...]
    detect: DetectConfig
    enforcer: Mapping[str, Any]
    policy: Policy
    poll_interval: float = 0.1
    batch_size: int = 1000
    ca: Path | None = None
    resync_interval: float = 6 * 3600.0
    # Seconds without a byte on the decision stream (the hub sends a keep-alive every
    # 15 s by default) before the agent reconnects, to the next hub node if several.
    stream_timeout: float = 45.0
    # Seconds between reports of exposure and benign counts (POST /v1/evidence).
    evidence_interval: float = 60.0


def _unknown(keys: set[str], known: set[str], where: str) -> None:
    for key in sorted(keys - known):
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
        raise ValueError(f"{where}: unknown key {key!r}: {hint}")


def _text(section: Mapping[str, Any], key: str, where: str, example: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where}.{key} = {value!r} must be a non-empty string, e.g. {example!r}")
    return value


def _has_host(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        if host:
            host.encode("idna")
    except (ValueError, UnicodeError):
        return False
    return bool(host)


def _hub(value: object, where: str) -> str:
    """The hub's node URLs: one URL, ``"URL,URL"`` or a list; kept as ``"URL,URL"``."""
    items: list[object] = []
    if isinstance(value, str):
        items = list(value.split(","))
    elif isinstance(value, list):
        items = list(value)
    urls = [u.strip() for u in items if isinstance(u, str)]
    if not urls or not all(urls) or len(urls) != len(items):
        raise ValueError(
            f"{where}.hub = {value!r} must be the hub's URL, e.g. 'http://127.0.0.1:8470', "
            "or a list of its nodes' URLs"
        )
    for url in urls:
        if not url.startswith(("http://", "https://")) or not _has_host(url):
            raise ValueError(
                f"{where}.hub: {url!r} must be an http:// or https:// URL with a host, "
                "e.g. 'http://127.0.0.1:8470'"
            )
    return ",".join(urls)


def hub_addresses(url: str) -> tuple[str, ...]:
    """The IP addresses of the hub (every node of ``"URL,URL"``), so that no decision
    can cut a member off from it."""
    found: set[str] = set()
    for one in url.split(","):
        try:
            host = urlsplit(one.strip()).hostname or ""
            infos = socket.getaddrinfo(host, None) if host else []
        except (OSError, ValueError):  # unresolvable; UnicodeError for an impossible name
            continue
        found |= {str(info[4][0]).split("%")[0] for info in infos}
    return tuple(sorted(found))


def parse_config(data: Mapping[str, Any], source: str, base: Path) -> AgentConfig:
    _unknown(set(data), SECTIONS, source)
    agent = data.get("agent")
    if not isinstance(agent, Mapping):
        raise ValueError(f"{source}: missing [agent] section with name, hub, key and data")
    where = f"{source}: [agent]"
    _unknown(set(agent), AGENT_KEYS, where)
    name = _text(agent, "name", where, "web-1")
    hub = _hub(agent.get("hub"), where)
    key = base / _text(agent, "key", where, "/etc/shieldwall/member.key")
    data_dir = base / _text(agent, "data", where, "/var/lib/shieldwall")
    raw_addresses = agent.get("addresses", [])
    if not isinstance(raw_addresses, list):
        raise ValueError(f"{where}.addresses must be a list of IP addresses or CIDR ranges")
    addresses = []
    for item in raw_addresses:
        try:
            addresses.append(normalise(parse_network(item))[0])
        except ValueError as exc:
            raise ValueError(f"{where}.addresses: {exc}") from None
    ca = None
    if "ca" in agent:
        ca = base / _text(agent, "ca", where, "/etc/shieldwall/hub-ca.pem")
        if not ca.is_file():
            raise ValueError(
                f"{where}.ca = {str(ca)!r} does not exist: give the hub's CA certificate (PEM)"
            )
    poll = agent.get("poll_interval", 0.1)
    if not isinstance(poll, (int, float)) or isinstance(poll, bool) or not 0.01 <= poll <= 60:
        raise ValueError(f"{where}.poll_interval = {poll!r} must be seconds between 0.01 and 60")
    batch = agent.get("batch_size", 1000)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 10_000:
        raise ValueError(f"{where}.batch_size = {batch!r} must be an integer from 1 to 10000")

    resync = agent.get("resync_interval", 6 * 3600)
    if (
        not isinstance(resync, (int, float))
        or isinstance(resync, bool)
        or not 10 <= resync <= 86400
    ):
        raise ValueError(
            f"{where}.resync_interval = {resync!r} must be seconds between 10 and 86400"
        )
    silent = agent.get("stream_timeout", 45.0)
    if not isinstance(silent, (int, float)) or isinstance(silent, bool) or not 1 <= silent <= 3600:
        raise ValueError(
            f"{where}.stream_timeout = {silent!r} must be seconds between 1 and 3600 "
            "(more than the hub's heartbeat setting)"
        )

    sources = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ValueError(f"{source}: sources must be written as [[sources]] tables")
    for i, item in enumerate(raw_sources):
        swhere = f"{source}: [[sources]] #{i + 1}"
        if not isinstance(item, Mapping):
            raise ValueError(f"{swhere} must be a table with 'path' or 'journald'")
        _unknown(set(item), SOURCE_KEYS, swhere)
        if ("path" in item) == ("journald" in item):
            raise ValueError(
                f"{swhere} needs exactly one of 'path' (a log file) or 'journald' (matches)"
            )
        from_start = item.get("from_start", False)
        if not isinstance(from_start, bool):
            raise ValueError(f"{swhere}.from_start = {from_start!r} must be true or false")
        if "path" in item:
            sources.append(
                SourceConfig(
                    path=base / _text(item, "path", swhere, "/var/log/auth.log"),
                    from_start=from_start,
                )
            )
        else:
            matches = item["journald"]
            if not isinstance(matches, list) or not all(isinstance(m, str) for m in matches):
                raise ValueError(
                    f"{swhere}.journald must be a list of journalctl matches, e.g. ['_SYSTEMD_UNIT=ssh.service']"
                )
            sources.append(SourceConfig(journald=tuple(matches), from_start=from_start))

    try:
        jails = load_jail_sources(data.get("fail2ban"), base)
        detect = load_config(data.get("detect"))
        policy = load_policy(
            data.get("policy"),
            member=name,
            own_addresses=addresses,
            hubs=hub_addresses(hub),
            ignoreip=[net for j in jails for net in j.rule.ignoreip],
        )
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None
    sources += [
        SourceConfig(path=j.path, journald=j.journald, from_start=j.from_start, rule=j.rule)
        for j in jails
    ]
    enforcer = data.get("enforcer", {"backend": "dryrun"})
    if not isinstance(enforcer, Mapping):
        raise ValueError(f"{source}: [enforcer] must be a table with a 'backend'")
    enforcer = dict(enforcer)
    if isinstance(enforcer.get("path"), str):
        enforcer["path"] = str(base / enforcer["path"])  # relative to the config file
    every = agent.get("evidence_interval", 60.0)
    if not isinstance(every, (int, float)) or isinstance(every, bool) or not 1 <= every <= 3600:
        raise ValueError(
            f"{where}.evidence_interval = {every!r} must be seconds between 1 and 3600"
        )
    return AgentConfig(
        name=name,
        hub=hub,
        key=key,
        data=data_dir,
        addresses=tuple(addresses),
        sources=tuple(sources),
        detect=detect,
        enforcer=enforcer,
        policy=policy,
        poll_interval=float(poll),
        batch_size=batch,
        ca=ca,
        resync_interval=float(resync),
        stream_timeout=float(silent),
        evidence_interval=float(every),
    )


def load_agent_config(path: Path) -> AgentConfig:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ValueError(
            f"config file {str(path)!r} does not exist: check --config, "
            "or write one with 'shieldwall agent init'"
        ) from None
    except OSError as exc:
        raise ValueError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, str(path), Path(path).resolve().parent)
