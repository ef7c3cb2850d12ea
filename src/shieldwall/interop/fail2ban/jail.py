"""fail2ban jails from ``jail.conf`` / ``jail.local``: thresholds, logs and filters."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shieldwall.core.addresses import parse_target
from shieldwall.interop.fail2ban.config import Config, ConfigError, read_config
from shieldwall.interop.fail2ban.filter import parse_filter_spec

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_UNITS = {
    "": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mi": 60,
    "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400,
    "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
    "mo": 2592000, "month": 2592000, "months": 2592000, "y": 31536000, "year": 31536000,
    "years": 31536000,
}  # fmt: skip


@dataclass(frozen=True)
class Jail:
    name: str
    enabled: bool
    filter: str
    filter_args: dict[str, str]
    maxretry: int
    findtime: float
    bantime: float  # negative: permanent, as in fail2ban
    ignoreip: tuple[str, ...]
    logpath: tuple[str, ...]
    backend: str
    where: str  # file:line of the jail: its ``enabled`` line, else its section header
    # file:line of each option the files set for this jail (its own or [DEFAULT]'s)
    wheres: Mapping[str, str] = field(default_factory=dict)
    # shieldwall's own options: hosts counted per prefix as well (128 / 32: per address)
    prefix_v6: int = 64
    prefix_v4: int = 32

    def where_of(self, option: str) -> str:
        """Where to fix ``option``: the line that set it, or the jail when it was left
        at fail2ban's default."""
        return self.wheres.get(option, self.where)


def parse_duration(text: str, where: str) -> float:
    """fail2ban time: ``600``, ``10m``, ``1h 30m``, ``-1`` (permanent)."""
    raw = text.strip().lower()
    if re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
        return float(raw)
    total, pos = 0.0, 0
    for m in _DURATION.finditer(raw):
        if raw[pos : m.start()].strip() or m.group(2) not in _UNITS:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos == 0 or raw[pos:].strip():
        raise ConfigError(where, f"time {text!r} is not a duration: write e.g. 600, 10m or 1h")
    return total


def load_jails(path: Path | str) -> list[Jail]:
    """Every jail section of ``jail.conf``, read with ``jail.d/*.conf``, ``jail.local``,
    ``jail.d/*.local`` and their includes, in that order (as fail2ban reads them)."""
    config = read_config(Path(path))
    return [
        _jail(config, name)
        for name in config.sections
        if name not in ("DEFAULT", "INCLUDES", "Definition", "Init")
    ]


OPTIONS = ("enabled", "filter", "maxretry", "findtime", "bantime", "ignoreip", "logpath", "backend",
           "prefix_v6", "prefix_v4")  # fmt: skip


def _jail(config: Config, name: str) -> Jail:
    header = config.headers.get(name, name)
    wheres: dict[str, str] = {}
    values: dict[str, str] = {}
    for option in OPTIONS:
        value = config.get(name, option)
        if value is not None:
            values[option], wheres[option] = value.text, value.where

    def get(option: str, default: str) -> tuple[str, str]:
        return values.get(option, default), wheres.get(option, header)

    enabled_text, w = get("enabled", "false")
    if enabled_text.strip().lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise ConfigError(w, f"enabled = {enabled_text!r} is not true or false")
    filter_text, w = get("filter", name)
    try:
        filter_name, args = parse_filter_spec(filter_text.split("\n")[0])
    except ValueError as exc:
        raise ConfigError(w, str(exc)) from None
    maxretry_text, w = get("maxretry", "5")
    if not maxretry_text.strip().isdigit() or int(maxretry_text) < 1:
        raise ConfigError(w, f"maxretry = {maxretry_text!r} is not a whole number >= 1")
    findtime_text, fw = get("findtime", "600")
    bantime_text, bw = get("bantime", "600")
    ignore_text, iw = get("ignoreip", "")
    ignoreip = []
    for item in ignore_text.split():
        try:
            net = ipaddress.ip_network(item, strict=False)  # fail2ban accepts 127.0.0.1/8
            ignoreip.append(parse_target(net.with_prefixlen).text)
        except ValueError:
            # fail2ban also accepts host names; we never resolve names from config
            raise ConfigError(
                iw,
                f"ignoreip entry {item!r} is not an IP address or CIDR range: "
                "list addresses, not host names",
            ) from None
    prefixes = {key: _prefix_length(*get(key, default), key, bits)
                for key, default, bits in (("prefix_v6", "64", 128), ("prefix_v4", "32", 32))}  # fmt: skip
    logpath_text, _ = get("logpath", "")
    backend, _ = get("backend", "auto")
    return Jail(
        name=name,
        enabled=enabled_text.strip().lower() in ("true", "yes", "1"),
        filter=filter_name,
        filter_args=args,
        maxretry=int(maxretry_text),
        findtime=parse_duration(findtime_text, fw),
        bantime=parse_duration(bantime_text, bw),
        ignoreip=tuple(ignoreip),
        logpath=tuple(p.strip() for p in logpath_text.split("\n") if p.strip()),
        backend=backend.strip(),
        where=wheres["enabled"] if "enabled" in config.section(name) else header,
        wheres=wheres,
        **prefixes,
    )


def _prefix_length(text: str, where: str, key: str, bits: int) -> int:
    """``prefix_v6`` / ``prefix_v4`` of a jail: a prefix length, ``bits`` meaning off."""
    shortest = 32 if bits == 128 else 16
    value = text.strip()
    if not value.isdigit() or not shortest <= int(value) <= bits:
        raise ConfigError(
            where,
            f"{key} = {text!r} is not a prefix length from {shortest} to {bits}: "
            f"write e.g. {key} = {64 if bits == 128 else 24} ({bits} counts single addresses)",
        )
    return int(value)
