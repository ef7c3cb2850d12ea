"""Words for the exercise report: parameters with human labels and units, the glossary,
and what to say about a column that carries no information in a run.

Pure data and formatting; the HTML report and the terminal tables both read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# Parameter key -> (label, unit): "s" a duration, "share" a fraction shown in %,
# "bool" yes/no, "" a plain number (the label says what it counts).
PARAMETERS: dict[str, tuple[str, str]] = {
    "events": ("attack events in the campaign", ""),
    "sources": ("attacking addresses", ""),
    "duration_s": ("campaign length", "s"),
    "multi_source_share": ("attackers that hit several networks", "share"),
    "multi_event_share": ("events from those attackers", "share"),
    "group_min": ("smallest group of networks one attacker hits", ""),
    "group_max": ("largest group of networks one attacker hits", ""),
    "spread_mean_s": ("mean time for an attacker to move to the next network", "s"),
    "cross_group_share": ("attackers that stray outside their group", "share"),
    "targeted_share": ("targeted attackers", "share"),
    "low_slow_share": ("low-and-slow attackers", "share"),
    "low_slow_gap_s": ("gap between a low-and-slow attacker's events", "s"),
    "low_slow_events": ("events per low-and-slow attacker", ""),
    "nat_share": ("attackers behind a shared address (NAT)", "share"),
    "nat_users": ("benign users behind each shared address", ""),
    "burst_gap_s": ("gap between events in a burst", "s"),
    "targeted_gap_s": ("gap between a targeted attacker's events", "s"),
    "opportunistic_gap_s": ("gap between an opportunistic attacker's events", "s"),
    "rogue_reports": ("invented reports per rogue member", ""),
    "innocent_users": ("benign users behind each address a rogue reports", ""),
    "rogue_member_reports": ("reports per rogue against other members' networks", ""),
    "ipv6_share": ("IPv6 attackers rotating through their /64", "share"),
    "ipv6_addresses": ("addresses each IPv6 attacker rotates through", ""),
    "rogue": ("rogue members", ""),
    "collude": ("rogue members collude", "bool"),
    "free_rider_share": ("free riders (never report)", "share"),
    "outage_share": ("members with an outage", "share"),
    "outage_s": ("length of an outage", "s"),
    "delay_median_s": ("median link delay to the hub", "s"),
    "findtime_s": ("detector window (findtime)", "s"),
    "recommend_uptake": ("members that apply a recommendation", "share"),
    "response_median_s": ("median time to answer a consultation", "s"),
    "corroborate_min_events": ("events a member needs to corroborate", ""),
    "throttle_pass_every": ("a throttle lets one event in every", ""),
    "self_defence": ("members ban what their own detector catches", "bool"),
    "self_defence_ban_s": ("length of a member's own ban", "s"),
    "prefix_counting": ("detectors count IPv6 sources per /64 as well", "bool"),
    "members": ("members", ""),
    "seed": ("random seed", ""),
    "slice_s": ("simulation time step", "s"),
    "appeal_after_s": ("owners of a falsely banned address appeal after", "s"),
}

GLOSSARY: tuple[tuple[str, str], ...] = (
    ("absorbed events", "attack events that reached a member because nothing blocked them yet."),
    ("blocked events", "attack events a decision or a member's own ban stopped."),
    (
        "share of possible gain captured",
        "how much of the gap between every member alone (unilateral) and the oracle a "
        "treaty closes: (unilateral absorbed − treaty absorbed) / (unilateral absorbed − "
        "oracle absorbed).",
    ),
    (
        "oracle",
        "the limit on this world: every attacker any detector catches is blocked at every "
        "member at once, with no false ban.",
    ),
    (
        "protection delay",
        "for a detected attacker, the time from its first event anywhere until every "
        "member is protected against it; p50 and p95 are the median and the 95th "
        "percentile over the detected attackers. A percentile is not reached when fewer "
        "than that share of attackers were ever blocked at every member.",
    ),
    (
        "multi-network delay",
        "the protection delay over attackers that hit several networks, the ones "
        "collective defence can help against (online: counting only members online).",
    ),
    (
        "detected attackers protected everywhere",
        "the share of detected attackers against which every member was protected before "
        "the campaign ended.",
    ),
    (
        "false ban",
        "a decision against an address that did not attack: a shared address (NAT) with "
        "benign users behind it, or an address a rogue member invented.",
    ),
    (
        "benign user-hours",
        "benign users behind a falsely banned address × the hours it was banned × the "
        "share of members enforcing the ban: the cost of false bans to innocent people.",
    ),
    ("rogue false bans", "false bans caused by a rogue member's invented reports."),
    (
        "contribution Gini",
        "how unequally members contribute corroborated reports: 0 when every member "
        "contributes the same, towards 1 when a few members do everything.",
    ),
    (
        "free-rider gain",
        "the share of attack events stopped at free riders (members that never report) "
        "divided by the share stopped at contributing members: 1 means free riders are "
        "protected as well as contributors, below 1 that they pay for not reporting.",
    ),
    (
        "Lorenz curve",
        "members sorted from least to most contributing against their cumulative share "
        "of all contributions; the diagonal is perfect equality.",
    ),
)

# Why a column can be empty in a run, said once under the table that leaves it out.
EMPTY: dict[str, str] = {
    "protection_delay_p50_s": "fewer than half of the detected attackers were ever blocked "
    "at every member",
    "protection_delay_p95_s": "fewer than 95 % of the detected attackers were ever blocked "
    "at every member",
    "protection_delay_multi_p50_s": "fewer than half of the multi-network attackers were "
    "ever blocked at every member",
    "protection_delay_multi_p95_s": "fewer than 95 % of the multi-network attackers were "
    "ever blocked at every member",
    "protection_delay_multi_online_p50_s": "fewer than half of the multi-network attackers "
    "were ever blocked at every online member",
    "possible_gain_captured": "unilateral and the oracle absorb the same: there was no gain "
    "to capture",
}
PERCENT = frozenset({"blocked_share", "protected_share"})
NEVER = (
    "never: the delay percentile was not reached, as fewer than that share of the "
    "detected attackers (half for p50, 95 % for p95) were ever blocked at every member"
)


def duration(seconds: float) -> str:
    """``seconds`` in the largest unit that keeps it readable: 90 s, 30 min, 6 h, 2 d."""
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size and (seconds % size == 0 or seconds >= 10 * size):
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def parameter(key: str, value: Any) -> tuple[str, str]:
    """(label, value with its unit) of a run parameter, e.g. ("campaign length", "24 h")."""
    label, unit = PARAMETERS.get(key, (key.replace("_", " "), ""))
    if unit == "" and key.endswith("_s"):
        unit = "s"
    if isinstance(value, bool) or unit == "bool":
        return label, "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return label, str(value)
    if unit == "s":
        return label, duration(float(value))
    if unit == "share":
        return label, f"{float(value) * 100:g} %"
    return label, f"{value:,}" if isinstance(value, int) else f"{value:g}"


def parameters(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [parameter(k, v) for k, v in params.items()]


def informative(
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Mapping[str, Any]],
    show: Callable[[Any], str] = str,
) -> tuple[list[tuple[str, str]], list[str]]:
    """The columns worth showing, and a sentence for each left out.

    A column is left out when every row has no value (it was never reached) or every
    row has the same value: it tells the treaties apart in nothing.
    """
    kept: list[tuple[str, str]] = []
    notes: list[str] = []
    for key, head in columns:
        values = [r.get(key) for r in rows]
        if rows and all(v is None for v in values):
            why = EMPTY.get(key, "no value in this run")
            notes.append(f"{head}: not reached by any treaty ({why})")
        elif len(rows) > 1 and len({repr(v) for v in values}) == 1:
            notes.append(f"{head}: {show(values[0])} for every treaty")
        else:
            kept.append((key, head))
    return kept, notes
