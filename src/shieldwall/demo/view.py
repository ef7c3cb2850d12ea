"""What the demo shows: a live table of members and the closing summary."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from shieldwall.demo.alliance import Alliance, Member
from shieldwall.demo.sweep import Tally, Timeline, timeline


def _ms(t: float | None, origin: float | None) -> str:
    if t is None or origin is None:
        return "—"
    return f"+{(t - origin) * 1000:,.0f} ms"


def live_table(alliance: Alliance, ip: str, tally: Tally, recent: list[str]) -> Group:
    line = timeline(alliance, ip)
    origin = line.first_detection
    table = Table(title=f"attacker {ip} sweeping the alliance ({alliance.template})", expand=False)
    for column in (
        "member",
        "address",
        "saw it",
        "reported",
        "enforced",
        "attempts reached",
        "dropped",
    ):
        table.add_column(
            column, justify="right" if column.startswith(("attempts", "dropped")) else "left"
        )
    for member in alliance.members:
        events = list(member.events)
        saw = next(
            (e["t"] for e in events if e["event"] == "detected" and e.get("target") == ip), None
        )
        reported = next(
            (e["t"] for e in events if e["event"] == "reported" and ip in e.get("targets", [])),
            None,
        )
        enforced = line.enforced.get(member.name)
        style = "green" if enforced is not None else ("yellow" if saw is not None else "")
        table.add_row(
            Text(member.name, style=style),
            member.address,
            _ms(saw, origin),
            _ms(reported, origin),
            _ms(enforced, origin),
            str(tally.reached.get(member.name, 0)),
            str(tally.blocked.get(member.name, 0)),
        )
    log = Text("\n".join(recent[-8:]) or "waiting for the attacker…", style="dim")
    return Group(table, Panel(log, title="alliance log", expand=False))


def second_hit(member: Member, ip: str) -> str:
    """When ``member`` caught ``ip``, as its agent counted: at which failed login, and
    whether the alliance's alert was in force there by then (measured, not assumed)."""
    events = list(member.events)
    caught = next((e for e in events if e["event"] == "detected" and e.get("target") == ip), None)
    if caught is None:
        enforced = any(e["event"] == "enforced" and e.get("target") == ip for e in events)
        return "never: the alliance's decision came first" if enforced else "never"
    alerted = any(
        e["event"] == "alerted" and e.get("target") == ip and e["t"] <= caught["t"] for e in events
    )
    warned = "on alert" if alerted else "no alert yet"
    first = "its first attempt" if caught["events"] == 1 else f"failed login {caught['events']}"
    return f"at {first} ({warned})"


def summary(alliance: Alliance, line: Timeline, tally: Tally) -> Table:
    table = Table(title="summary", show_header=False)
    table.add_column("what")
    table.add_column("figure", justify="right")
    origin = line.first_detection
    table.add_row("members", str(len(alliance.members)))
    table.add_row("treaty", alliance.template)
    table.add_row("first detection → alliance decision", _ms(line.decision, origin))
    all_enforced = line.all_enforced
    table.add_row(
        "first detection → enforced on every member",
        _ms(all_enforced, origin)
        if all_enforced is not None
        else f"{len(line.enforced)} of {line.members} enforced",
    )
    if line.decision is not None and all_enforced is not None:
        table.add_row(
            "decision → enforced on every member",
            f"{(all_enforced - line.decision) * 1000:,.0f} ms",
        )
    table.add_row("attack attempts that reached a member", str(tally.total_reached))
    table.add_row("attempts dropped before reaching a member", str(tally.total_blocked))
    untouched = sum(1 for m in alliance.members if tally.reached.get(m.name, 0) == 0)
    table.add_row("members the attacker never reached", f"{untouched} of {len(alliance.members)}")
    return table
