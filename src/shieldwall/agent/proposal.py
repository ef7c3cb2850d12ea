"""The configuration ``shieldwall agent init`` proposes, written as ``agent.toml``.

:func:`render` turns a :class:`Proposal` (the answers and what :mod:`discover` found)
into the TOML text the agent reads, with a comment on each source saying what it is
for. It does no I/O; the command validates the text with the agent's own parser before
writing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shieldwall.agent.discover import Discovery

# enforcer -> the program it runs, below the server's root
ENFORCER_TOOLS = {
    "nftables": ("usr/sbin/nft", "sbin/nft"),
    "ipset": ("usr/sbin/ipset", "sbin/ipset"),
}


@dataclass(frozen=True, slots=True)
class Proposal:
    name: str
    hub: str
    key: Path
    data: Path
    addresses: tuple[str, ...]
    found: Discovery
    enforcer: str
    ca: Path | None = None


def choose_enforcer(root: Path) -> str:
    """The first enforcer whose program the server has; ``dryrun`` when it has none."""
    for backend, tools in ENFORCER_TOOLS.items():
        if any((root / tool).exists() for tool in tools):
            return backend
    return "dryrun"


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes, plus DEL, which TOML escapes)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(toml_string(i) for i in items) + "]"


def render(p: Proposal) -> str:
    """``agent.toml`` for ``p``; sources in the order they were found."""
    lines = [
        "# shieldwall agent: written by 'shieldwall agent init'. See docs/agent.md.",
        "",
        "[agent]",
        f"name = {toml_string(p.name)}",
        f"hub = {toml_string(p.hub)}",
        f"key = {toml_string(str(p.key))}",
        f"data = {toml_string(str(p.data))}",
        "# this server's own addresses: never blocked, whatever the alliance decides",
        f"addresses = {_list(p.addresses)}",
    ]
    if p.ca is not None:
        lines.append(f"ca = {toml_string(str(p.ca))}")
    for log in p.found.logs:
        lines += ["", f"# {log.service}", "[[sources]]"]
        lines.append(f"path = {toml_string(str(log.path))}")
    for journal in p.found.journal:
        lines += ["", f"# {journal.service}, from the journal", "[[sources]]"]
        lines.append(f"journald = {_list(journal.matches)}")
    jails = p.found.fail2ban
    if jails is not None and (jails.run or jails.skipped):
        lines.append("")
        if jails.run:
            lines += [
                "# fail2ban's enabled jails, each with its own filter",
                "[fail2ban]",
                f"jail = {toml_string(str(jails.jail_conf))}",
                f"jails = {_list(jails.run)}",
            ]
        for name, why in jails.skipped:
            lines.append(f"# fail2ban jail {name} is not run: {why}")
    lines += ["", "[enforcer]", f"backend = {toml_string(p.enforcer)}"]
    if p.enforcer == "dryrun":
        lines.append("# no nft or ipset here: decisions are logged, not enforced")
    return "\n".join(lines) + "\n"


def describe(p: Proposal) -> list[str]:
    """What the proposal watches, one line each, for the operator to confirm."""
    out = [f"log {log.path} ({log.service})" for log in p.found.logs]
    out += [f"journal: {j.service} ({' '.join(j.matches)})" for j in p.found.journal]
    jails = p.found.fail2ban
    if jails is not None:
        out += [f"fail2ban jail {name} ({jails.jail_conf})" for name in jails.run]
        out += [f"fail2ban jail {name} not run: {why}" for name, why in jails.skipped]
    out += list(p.found.notes)
    return out
