"""Build an enforcer from the ``[enforcer]`` section of the agent's configuration.

    [enforcer]
    backend = "nftables"        # nftables | ipset | file | dryrun | memory
    table = "shieldwall"        # nftables: table name
    hooks = ["input"]           # nftables/ipset: add "forward" on a router
    verdict = "drop"            # or "reject"
    prefix = "shieldwall"       # ipset: set name prefix
    chain = "SHIELDWALL"        # ipset: iptables chain
    path = "/etc/nginx/shieldwall.conf"   # file
    line_format = "deny {target};"        # file
    reload = ["nginx", "-s", "reload"]    # file
    netns = "member1"           # nftables/ipset: run the commands in this namespace

``allow`` (own addresses, allowlist, hub) comes from the local policy.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from shieldwall.agent.enforce.base import Clock, CommandRunner, Enforcer, Runner
from shieldwall.agent.enforce.dryrun import DryRunEnforcer
from shieldwall.agent.enforce.file import FileEnforcer
from shieldwall.agent.enforce.ipset import IpsetConfig, IpsetEnforcer
from shieldwall.agent.enforce.memory import MemoryEnforcer
from shieldwall.agent.enforce.nftables import NftablesEnforcer, NftConfig

BACKENDS: dict[str, frozenset[str]] = {
    "nftables": frozenset({"table", "hooks", "verdict", "priority", "counters", "netns"}),
    "ipset": frozenset({"prefix", "chain", "hooks", "verdict", "maxelem", "netns"}),
    "file": frozenset({"path", "line_format", "reload"}),
    "dryrun": frozenset(),
    "memory": frozenset(),
}
_NETNS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_KIND = {str: "a string", int: "a whole number", bool: "true or false"}
# key -> (type, example): every value is checked before any backend sees it
_TYPES: dict[str, tuple[type, str]] = {
    "table": (str, '"shieldwall"'),
    "verdict": (str, '"drop"'),
    "priority": (int, "-10"),
    "counters": (bool, "true"),
    "prefix": (str, '"shieldwall"'),
    "chain": (str, '"SHIELDWALL"'),
    "maxelem": (int, "1048576"),
    "path": (str, '"/etc/nginx/shieldwall.conf"'),
    "line_format": (str, '"deny {target};"'),
}


def make_enforcer(
    section: Mapping[str, Any],
    *,
    allow: Sequence[str] = (),
    runner: Runner | None = None,
    clock: Clock | None = None,
) -> Enforcer:
    """The configured enforcer; ValueError naming the bad key or value and the fix."""
    options = dict(section)
    backend = options.pop("backend", "nftables")
    if backend not in BACKENDS:
        raise ValueError(
            f"[enforcer] backend = {backend!r} is unknown: choose one of {', '.join(BACKENDS)}"
        )
    for key in options:
        if key not in BACKENDS[backend]:
            known = sorted(BACKENDS[backend])
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"{backend} takes {known or 'none'}"
            raise ValueError(f"[enforcer] key {key!r} does not apply to {backend}: {hint}")
    for key, value in options.items():
        if key not in _TYPES:
            continue
        kind, example = _TYPES[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(
                f"[enforcer] {key} = {value!r} must be {_KIND[kind]}, e.g. {key} = {example}"
            )
    netns = options.pop("netns", None)
    if runner is None and netns is not None:
        if not isinstance(netns, str) or not _NETNS.match(netns):
            raise ValueError(f"[enforcer] netns = {netns!r} is not a namespace name")
        runner = CommandRunner(prefix=("ip", "netns", "exec", netns))
    extra: dict[str, Any] = {} if clock is None else {"clock": clock}
    for key in ("hooks", "reload"):
        if key in options:
            value = options[key]
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"[enforcer] {key} = {value!r} must be a list of strings")
            options[key] = tuple(value)
    try:
        if backend == "nftables":
            return NftablesEnforcer(
                NftConfig(allow=tuple(allow), **options), runner=runner, **extra
            )
        if backend == "ipset":
            return IpsetEnforcer(IpsetConfig(allow=tuple(allow), **options), runner=runner, **extra)
        if backend == "file":
            if "path" not in options:
                raise ValueError("[enforcer] backend 'file' needs path = \"/some/file\"")
            return FileEnforcer(options.pop("path"), runner=runner, **options, **extra)
        if backend == "dryrun":
            return DryRunEnforcer(**extra)
        return MemoryEnforcer(allow=allow, **extra)
    except TypeError as exc:
        raise ValueError(f"[enforcer] invalid value type: {exc}") from None
