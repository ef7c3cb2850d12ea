"""fail2ban jails as agent sources: ``[fail2ban]`` in ``agent.toml``.

```toml
[fail2ban]
jail = "/etc/fail2ban/jail.conf"   # with jail.local and jail.d/*.conf, as fail2ban reads them
jails = ["sshd"]                   # optional: these jails (default: those enabled there)
```

Each jail becomes one source per log it reads, detected with its own filter from
``filter.d/`` beside ``jail.conf`` (with the jail's filter arguments), its ``maxretry``
and ``findtime``; its ``bantime`` is the length of this member's own ban
(self-defence); its ``ignoreip`` is never counted and never blocked. ``backend =
systemd`` reads the journal with the filter's ``journalmatch``; any other backend
follows the files of ``logpath`` (globs are expanded at start, a ``head`` suffix reads
a file from its beginning). Offences carry the scenario ``fail2ban-<jail>``. A jail may
set ``prefix_v6`` (default 64) and ``prefix_v4`` (default 32, off): hosts counted per
prefix as well as per address (see ``shieldwall.agent.detect.prefixes``).

What cannot run here is refused with the file and line to fix, never skipped.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.agent.detect.fail2ban import FilterRule
from shieldwall.interop.fail2ban.config import ConfigError
from shieldwall.interop.fail2ban.filter import load_filter
from shieldwall.interop.fail2ban.jail import Jail, load_jails

KEYS = {"jail", "jails"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,100}$")
_FILE_BACKENDS = {"auto", "polling", "pyinotify", "gamin"}


@dataclass(frozen=True)
class JailSource:
    """One log (or the journal) a jail reads, with the rule its filter applies."""

    rule: FilterRule
    path: Path | None = None
    journald: tuple[str, ...] | None = None
    from_start: bool = False


def load_jail_sources(section: Mapping[str, Any] | None, base: Path) -> list[JailSource]:
    """Sources for the ``[fail2ban]`` section; ValueError naming the value and the fix."""
    if section is None:
        return []
    if not isinstance(section, Mapping):
        raise ValueError('[fail2ban] must be a table such as jail = "/etc/fail2ban/jail.conf"')
    for key in sorted(set(section) - KEYS):
        raise ValueError(f"[fail2ban] unknown key {key!r}: use 'jail' and, if needed, 'jails'")
    path = section.get("jail")
    if not isinstance(path, str) or not path:
        raise ValueError(
            f'[fail2ban] jail = {path!r} must name jail.conf, e.g. "/etc/fail2ban/jail.conf"'
        )
    wanted = section.get("jails")
    if wanted is not None and (
        not isinstance(wanted, list) or not wanted or not all(isinstance(j, str) for j in wanted)
    ):
        raise ValueError(f'[fail2ban] jails = {wanted!r} must be a list of jail names: ["sshd"]')
    jail_conf = base / path
    try:
        jails = {j.name: j for j in load_jails(jail_conf)}
    except ConfigError as exc:
        raise ValueError(f"[fail2ban] {exc}") from None
    if wanted is None:
        chosen = [j for j in jails.values() if j.enabled]
        if not chosen:
            raise ValueError(
                f"[fail2ban] no jail is enabled in {jail_conf}: enable one there "
                'or list them here, e.g. jails = ["sshd"]'
            )
    else:
        chosen = []
        for name in wanted:
            if name not in jails:
                raise ValueError(
                    f"[fail2ban] jails: {name!r} is not a jail of {jail_conf}: "
                    f"choose from {', '.join(sorted(jails)[:20])}"
                )
            chosen.append(jails[name])
    sources: list[JailSource] = []
    for jail in chosen:
        sources.extend(_sources(jail, jail_conf.parent / "filter.d"))
    return sources


def _sources(jail: Jail, filters: Path) -> list[JailSource]:
    where = jail.where or jail.name
    if not _NAME.match(jail.name):
        raise ValueError(
            f"[fail2ban] {where}: jail name {jail.name!r} cannot name a scenario: "
            "use letters, digits, '.', '_' and '-'"
        )
    try:
        definition = load_filter(filters / f"{jail.filter}.conf", jail.filter_args)
    except ConfigError as exc:
        raise ValueError(f"[fail2ban] jail {jail.name!r} ({where}): filter {exc}") from None
    if not jail.findtime > 0:
        raise ValueError(
            f"[fail2ban] jail {jail.name!r} ({jail.where_of('findtime')}): "
            f"findtime = {jail.findtime:g} "
            "must be a positive duration, e.g. 10m"
        )
    if jail.bantime == 0:
        raise ValueError(
            f"[fail2ban] jail {jail.name!r} ({jail.where_of('bantime')}): bantime = 0 bans nothing: "
            "give a duration such as 10m, or -1 for ever"
        )
    rule = FilterRule(
        scenario=f"fail2ban-{jail.name}",
        definition=definition,
        maxretry=jail.maxretry,
        findtime=jail.findtime,
        bantime=jail.bantime,
        ignoreip=jail.ignoreip,
        where=where,
        prefix_v6=jail.prefix_v6,
        prefix_v4=jail.prefix_v4,
    )
    backend = jail.backend.lower()
    if backend.startswith("systemd"):
        if backend != "systemd":
            raise ValueError(
                f"[fail2ban] jail {jail.name!r} ({jail.where_of('backend')}): "
                f"backend {jail.backend!r}: "
                "systemd options are not supported here; write backend = systemd"
            )
        return [JailSource(rule, journald=journal_matches(definition.journalmatch))]
    if backend not in _FILE_BACKENDS:
        raise ValueError(
            f"[fail2ban] jail {jail.name!r} ({jail.where_of('backend')}): "
            f"backend {jail.backend!r} is not "
            f"supported: use systemd or one of {', '.join(sorted(_FILE_BACKENDS))}"
        )
    if not jail.logpath:
        raise ValueError(
            f"[fail2ban] jail {jail.name!r} ({where}) has no logpath: give the log it "
            "reads, or backend = systemd"
        )
    out: list[JailSource] = []
    for entry in jail.logpath:
        words = entry.split()
        from_start = False
        if len(words) > 1 and words[-1] in ("head", "tail"):
            from_start = words.pop() == "head"
        pattern = " ".join(words)
        paths = _paths(pattern)
        if not paths:
            raise ValueError(
                f"[fail2ban] jail {jail.name!r} ({jail.where_of('logpath')}): "
                f"logpath {pattern!r} matches no "
                "file: fix the pattern or create the log"
            )
        out.extend(JailSource(rule, path=Path(p), from_start=from_start) for p in paths)
    return out


def _paths(pattern: str) -> list[str]:
    """A plain path as it is (it may appear later); a glob's files at start."""
    if not glob.has_magic(pattern):
        return [pattern]
    return sorted(glob.glob(pattern))


def journal_matches(journalmatch: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """fail2ban's journalmatch lines (each a conjunction) as journalctl arguments."""
    out: list[str] = []
    for line in journalmatch:
        if out:
            out.append("+")
        out.extend(line)
    return tuple(out)
