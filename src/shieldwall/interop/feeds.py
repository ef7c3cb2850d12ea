"""Blocklist feeds: the active ban decisions in the formats other tools read.

Every renderer is a pure function of the decisions (no clock, no timestamps in the
output), so the same decisions give byte-identical text and a stable ETag.

Formats: ``txt`` (one address or range a line), ``nft`` (an ``nft -f`` script that
fills two interval sets and a chain dropping them), ``ipset`` (an ``ipset restore`` file that swaps
freshly filled sets in), ``nginx`` (``deny`` include), ``nginx-geo`` (a ``geo`` map),
``csv``, ``json`` and ``fail2ban`` (a ``sh`` script of ``fail2ban-client`` commands).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shieldwall.core.addresses import Target, canonical
from shieldwall.core.model import Decision
from shieldwall.interop.crowdsec_format import decision_uuid

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IDENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,30}$")
_CHUNK = 2000


@dataclass(frozen=True, slots=True)
class FeedOptions:
    """Names used inside the generated text (validated: they end up in configs)."""

    set_name: str = "shieldwall"  # nft / ipset set prefix: <name>-v4, <name>-v6
    table: str = "shieldwall"  # nft table (family inet)
    variable: str = "shieldwall_blocked"  # nginx geo variable
    jail: str = "shieldwall"  # fail2ban jail

    def __post_init__(self) -> None:
        for field in ("set_name", "table", "variable", "jail"):
            value = getattr(self, field)
            if not IDENT_RE.match(value):
                raise ValueError(
                    f"{field.replace('_', ' ')} {value!r} is not valid: use a letter then up "
                    "to 30 letters, digits, '_' or '-'"
                )
        if "-" in self.variable:
            raise ValueError(
                f"nginx variable {self.variable!r} may not contain '-': use letters, digits, '_'"
            )


def enforceable(decisions: Sequence[Decision]) -> list[Decision]:
    """Binding ban decisions for every member whose target is canonical, sorted by target.

    Renderers write every target from :func:`_target` (the parsed value), never from
    the decision's text as such; a target that is not canonical is left out here.
    """
    keep = []
    for d in decisions:
        if d.action != "ban" or d.recommended or d.applies_to:
            continue
        try:
            canonical(d.target)
        except ValueError:
            continue
        keep.append(d)
    return sorted(keep, key=lambda d: (*_sort_key(_target(d)), d.id))


def _target(d: Decision) -> Target:
    return canonical(d.target)


def _sort_key(t: Target) -> tuple[int, int, int]:
    return t.version, t.first, t.prefixlen


def _families(decisions: Sequence[Decision]) -> tuple[list[Network], list[Network]]:
    """Non-overlapping networks per family (interval sets refuse overlaps)."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for d in decisions:
        net = _target(d).network
        if isinstance(net, ipaddress.IPv4Network):
            v4.append(net)
        else:
            v6.append(net)
    return list(ipaddress.collapse_addresses(v4)), list(ipaddress.collapse_addresses(v6))


def _host(net: Network) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_txt(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    return "".join(f"{_target(d).text}\n" for d in decisions)


def render_nft(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    v4, v6 = _families(decisions)
    t = opts.table
    lines = [
        "#!/usr/sbin/nft -f",
        f"# shieldwall alliance decisions: {len(v4)} IPv4 and {len(v6)} IPv6 entries",
        f"add table inet {t}",
    ]
    for fam, nets in (("v4", v4), ("v6", v6)):
        name = f"{opts.set_name}-{fam}"
        kind = "ipv4_addr" if fam == "v4" else "ipv6_addr"
        lines.append(f"add set inet {t} {name} {{ type {kind}; flags interval; }}")
        lines.append(f"flush set inet {t} {name}")
        for i in range(0, len(nets), _CHUNK):
            chunk = ", ".join(_host(n) for n in nets[i : i + _CHUNK])
            lines.append(f"add element inet {t} {name} {{ {chunk} }}")
    # A chain of its own that drops what the sets hold: loading the feed blocks them.
    # Re-running the script replaces the rules (flush) instead of stacking copies.
    lines.append(
        f"add chain inet {t} input {{ type filter hook input priority -10; policy accept; }}"
    )
    lines.append(f"flush chain inet {t} input")
    lines.append(f"add rule inet {t} input ip saddr @{opts.set_name}-v4 drop")
    lines.append(f"add rule inet {t} input ip6 saddr @{opts.set_name}-v6 drop")
    return "\n".join(lines) + "\n"


def render_ipset(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    v4, v6 = _families(decisions)
    lines: list[str] = []
    for fam, family, nets in (("v4", "inet", v4), ("v6", "inet6", v6)):
        name, tmp = f"{opts.set_name}-{fam}", f"{opts.set_name}-{fam}-new"
        size = max(65536, len(nets))
        spec = f"hash:net family {family} hashsize 1024 maxelem {size}"
        lines.append(f"create {name} {spec} -exist")
        lines.append(f"create {tmp} {spec} -exist")
        lines.append(f"flush {tmp}")
        lines.extend(f"add {tmp} {_host(n)}" for n in nets)
        lines.append(f"swap {tmp} {name}")
        lines.append(f"destroy {tmp}")
    return "\n".join(lines) + "\n"


def render_nginx(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    head = "# shieldwall alliance decisions: include inside http, server or location\n"
    return head + "".join(f"deny {_target(d).text};\n" for d in decisions)


def render_nginx_geo(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    lines = [
        "# shieldwall alliance decisions: include inside http; "
        f"then `if (${opts.variable}) {{ return 403; }}`",
        f"geo ${opts.variable} {{",
        "    default 0;",
    ]
    seen: set[str] = set()
    for d in decisions:
        text = _target(d).text
        if text not in seen:  # geo refuses duplicate networks
            seen.add(text)
            lines.append(f"    {text} 1;")
    lines.append("}")
    return "\n".join(lines) + "\n"


_CSV_FIELDS = ("value", "scope", "type", "scenario", "issued_at", "expires_at", "clause", "id")


def render_csv(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_FIELDS)
    for d in decisions:
        t = _target(d)
        row = (t.text, t.scope, d.action, d.scenario, _iso(d.issued_at), _iso(d.expires_at))
        w.writerow((*(_csv_safe(v) for v in row), _csv_safe(d.clause), d.id))
    return buf.getvalue()


def _csv_safe(value: str) -> str:
    """Neutralise spreadsheet formulas in text cells (scenario names come from members)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def render_json(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    items = [
        {
            "id": d.id,
            "uuid": decision_uuid(d.id),
            "value": _target(d).text,
            "scope": _target(d).scope,
            "type": d.action,
            "scenario": d.scenario,
            "clause": d.clause,
            "issued_at": _iso(d.issued_at),
            "expires_at": _iso(d.expires_at),
        }
        for d in decisions
    ]
    return json.dumps({"count": len(items), "decisions": items}, indent=1) + "\n"


def render_fail2ban(decisions: Sequence[Decision], opts: FeedOptions) -> str:
    """A ``sh`` script banning every active target in a fail2ban jail.

    Bans last for the jail's ``bantime``; run the script at least that often.
    """
    lines = [
        "#!/bin/sh",
        f"# shieldwall alliance decisions for fail2ban jail '{opts.jail}'",
        "set -e",
    ]
    targets = [_target(d).text for d in decisions]
    for i in range(0, len(targets), 500):
        lines.append(f"fail2ban-client set {opts.jail} banip " + " ".join(targets[i : i + 500]))
    return "\n".join(lines) + "\n"


Renderer = Callable[[Sequence[Decision], FeedOptions], str]

FORMATS: dict[str, tuple[Renderer, str]] = {
    "txt": (render_txt, "text/plain; charset=utf-8"),
    "nft": (render_nft, "text/plain; charset=utf-8"),
    "ipset": (render_ipset, "text/plain; charset=utf-8"),
    "nginx": (render_nginx, "text/plain; charset=utf-8"),
    "nginx-geo": (render_nginx_geo, "text/plain; charset=utf-8"),
    "csv": (render_csv, "text/csv; charset=utf-8"),
    "json": (render_json, "application/json"),
    "fail2ban": (render_fail2ban, "text/x-shellscript; charset=utf-8"),
}


def render(fmt: str, decisions: Sequence[Decision], opts: FeedOptions | None = None) -> str:
    """Render the enforceable subset of ``decisions`` in format ``fmt``."""
    if fmt not in FORMATS:
        raise ValueError(f"feed format {fmt!r} is unknown: use one of {', '.join(FORMATS)}")
    renderer, _ = FORMATS[fmt]
    return renderer(enforceable(decisions), opts or FeedOptions())
