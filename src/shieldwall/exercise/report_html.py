"""The exercise report: one self-contained HTML page with inline SVG plots.

No scripts, stylesheets or fonts are fetched: the page opens offline. Input is the
results dictionary the engine writes as JSON, so a saved results.json can be rendered
again later.
"""

from __future__ import annotations

from html import escape
from typing import Any

from shieldwall.exercise.svg import Series, bar_chart, line_chart

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
.wide{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555;max-width:640px}
.note{color:#555;font-size:13px}
"""

# The treaties table, in two parts so that each fits the page.
OUTCOMES = (
    ("attacks_absorbed", "absorbed events"),
    ("attacks_blocked", "blocked events"),
    ("blocked_share", "blocked share"),
    ("blocked_locally_only", "blocked by a local ban alone"),
    ("protection_delay_p50_s", "delay p50 (s)"),
    ("protection_delay_p95_s", "delay p95 (s)"),
    ("protection_delay_multi_p50_s", "multi-network p50 (s)"),
    ("protection_delay_multi_online_p50_s", "multi, online members p50 (s)"),
    ("protected_share", "attackers protected"),
)
COSTS = (
    ("false_bans", "false bans"),
    ("false_ban_user_hours", "benign user-hours blocked"),
    ("rogue_false_bans", "rogue false bans"),
    ("decisions", "decisions"),
    ("consultations", "consultations"),
    ("disputes", "disputes"),
    ("revocations", "revocations"),
    ("contribution_gini", "contribution Gini"),
    ("free_rider_gain", "free-rider gain"),
)


def figure(value: Any) -> str:
    """A result as people read it: 3 significant digits, thousands grouped, None as
    "never" (a delay that never ended)."""
    if value is None:
        return "never"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def cell(value: Any) -> str:
    return escape(figure(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return (
        f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
        "</table></div>"
    )


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _sweep(results: dict[str, Any], parameter: str) -> dict[str, Any] | None:
    for sweep in results.get("sweeps", []):
        if sweep.get("parameter") == parameter:
            return dict(sweep)
    return None


def _probe_sweep(results: dict[str, Any]) -> dict[str, Any] | None:
    """The headline rogue probe as a quorum sweep with two points (quorum 1 and 2)."""
    rows = (results.get("headline") or {}).get("rogue_probe") or []
    if not rows:
        return None
    by_treaty: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_treaty.setdefault(row["treaty"], []).append(row)
    values = sorted({float(row["quorum"]) for row in rows})
    return {"parameter": "quorum", "values": values, "treaties": by_treaty}


def _sweep_chart(
    results: dict[str, Any], parameter: str, metric: str, title: str, xlabel: str, ylabel: str
) -> str:
    sweep = _sweep(results, parameter)
    caption = (
        f"Same seed for every point; only {parameter} changes. User-hours count benign "
        "users behind a banned address times hours, times the share of members enforcing."
    )
    if sweep is None and parameter == "quorum":
        sweep = _probe_sweep(results)
        caption = (
            "From the headline rogue probe: each quorum-based treaty played again at quorum "
            "1 and 2 with one rogue acting alone, same seed. False bans count shared NAT "
            "addresses as well as the rogue's inventions. Add --sweep quorum=1..5 for more "
            "points."
        )
    if sweep is None:
        return (
            f'<p class="note" id="missing-{escape(parameter)}">No {escape(parameter)} sweep in '
            f"this run: add <code>--sweep {escape(parameter)}=A..B</code> to plot {escape(title)}."
            "</p>"
        )
    values = [float(v) for v in sweep["values"]]
    series = [
        Series(name, values, [float(row.get(metric) or 0.0) for row in rows])
        for name, rows in sweep["treaties"].items()
    ]
    chart = line_chart(
        f"sweep-{parameter}",
        title,
        xlabel,
        ylabel,
        series,
        x_at=values if len(values) <= 12 else None,
    )
    return _figure(chart, caption)


def _mode(results: dict[str, Any]) -> str:
    if results.get("self_defence"):
        hours = float(results.get("self_defence_ban_s", 3600.0)) / 3600.0
        return (
            "Members defend themselves: a member whose own detector fires bans the source "
            f"on its own firewall at once for {hours:g} h, whatever the treaty decides. An "
            "event stopped by a local ban and a decision is counted once."
        )
    return "Members do not ban locally: every block comes from a treaty decision."


def _headline(head: dict[str, Any] | None) -> list[str]:
    """The headline findings: one rogue at quorum 1 and 2, and how fast treaties react."""
    if not head:
        return []
    probe = head.get("rogue_probe", [])
    react = head.get("reaction", [])
    return [
        "<h2 id='headline'>Headline findings</h2>",
        "<p class='note'>One rogue member acting alone, each quorum-based treaty played "
        "with quorum 1 and quorum 2 (same seed): the bans its invented reports caused.</p>",
        _table(
            ["treaty", "quorum", "rogue false bans", "rogue benign user-hours"],
            [
                [r["treaty"], r["quorum"], r["rogue_false_bans"], r["rogue_user_hours"]]
                for r in probe
            ],
        ),
        "<p class='note'>How fast treaties react: time from an attacker's first event "
        "anywhere to its first decision, over the attackers that got one, in the "
        f"configured alliance and in a {cell(head.get('small_alliance'))}-member one "
        "(the campaign scaled down, same seed).</p>",
        _table(
            [
                "treaty",
                "members",
                "decisions",
                "attackers decided",
                "detected attackers",
                "first decision p50 (s)",
                "p95 (s)",
                "actions",
            ],
            [
                [
                    r["treaty"],
                    r["members"],
                    r["decisions"],
                    r["attackers_decided"],
                    r["detected_attackers"],
                    r["first_decision_p50_s"],
                    r["first_decision_p95_s"],
                    ", ".join(r["actions"]) or "none",
                ]
                for r in react
            ],
        ),
    ]


def _treaty_tables(treaties: dict[str, Any]) -> list[str]:
    """What each treaty achieved, then what it cost and how it shared the burden."""
    return [
        _table(
            ["treaty", *[h for _, h in columns]],
            [[n, *[r.get(k) for k, _ in columns]] for n, r in treaties.items()],
        )
        for columns in (OUTCOMES, COSTS)
    ]


def _lorenz(name: str, result: dict[str, Any], curve: dict[str, list[float]]) -> Series:
    shares = curve["contribution_pct"]
    if not shares or shares[-1] <= 0:  # nobody contributed: no curve to draw
        return Series(f"{name}: none", [], [])
    gini = float(result.get("contribution_gini") or 0.0)
    return Series(f"{name} G={gini:.2f}", curve["members_pct"], shares)


def render(results: dict[str, Any]) -> str:
    treaties: dict[str, Any] = results.get("treaties", {})
    series: dict[str, Any] = results.get("series", {})
    names = list(treaties)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>shieldwall exercise report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>shieldwall exercise report</h1>",
        f"<p>Seed {cell(results.get('seed'))}, {cell(results.get('members'))} members, "
        f"{cell(results.get('campaign', {}).get('events'))} attack events from "
        f"{cell(results.get('campaign', {}).get('sources'))} sources. The real council "
        "decided; the engine modelled attackers, detectors, links and outages.</p>",
        "<h2>Treaties compared</h2>",
        f"<p class='note' id='self-defence'>{escape(_mode(results))}</p>",
        *_treaty_tables(treaties),
    ]
    pure: dict[str, Any] = results.get("treaties_without_self_defence", {})
    if pure:
        parts.append(
            "<h3 id='without-self-defence'>The treaties alone (no local self-defence)</h3>"
        )
        parts.extend(_treaty_tables(pure))

    parts.extend(_headline(results.get("headline")))

    cum = [
        Series(n, series[n]["cumulative"]["t_h"], series[n]["cumulative"]["absorbed"])
        for n in names
        if n in series
    ]
    parts.append("<h2>Plots</h2>")
    parts.append(
        _figure(
            line_chart(
                "cumulative-absorbed",
                "Cumulative absorbed attack events",
                "time since campaign start (hours)",
                "absorbed attack events (count)",
                cum,
            ),
            "Attack events that reached a member, over time. Lower is better.",
        )
    )
    ecdf = [
        Series(
            n if series[n]["delay_ecdf"]["delay_s"] else f"{n} (never)",
            series[n]["delay_ecdf"]["delay_s"],
            series[n]["delay_ecdf"]["share_pct"],
        )
        for n in names
        if n in series
    ]
    parts.append(
        _figure(
            line_chart(
                "protection-delay",
                "Protection delay distribution",
                "delay from first attack event to every member protected (seconds, log)",
                "detected attackers protected (%)",
                ecdf,
                log_x=True,
                step=True,
            ),
            "Share of detected attackers against which every member was protected within "
            "the delay. Curves that stay low never protect everyone.",
        )
    )
    parts.append(
        _sweep_chart(
            results,
            "quorum",
            "false_bans",
            "False bans against quorum",
            "quorum (distinct members)",
            "false bans (decisions)",
        )
    )
    parts.append(
        _sweep_chart(
            results,
            "rogue",
            "rogue_user_hours",
            "Rogue-member sweep",
            "rogue members (count)",
            "benign users blocked by rogue reports (user-hours)",
        )
    )
    lorenz = [_lorenz(n, treaties[n], series[n]["lorenz"]) for n in names if n in series]
    parts.append(
        _figure(
            line_chart(
                "contribution-shares",
                "Contribution shares (Lorenz curve)",
                "members, least contributing first (%)",
                "cumulative share of contributions (%)",
                lorenz,
                reference=Series("equal shares", [0.0, 100.0], [0.0, 100.0]),
            ),
            "The dashed diagonal would mean every member contributes equally; free riders "
            "sit flat at the left. A treaty under which nobody contributed (no decision "
            "was corroborated) has no curve.",
        )
    )
    kinds = sorted({k for n in names for k in treaties[n].get("absorbed_by_kind", {})})
    parts.append(
        _figure(
            bar_chart(
                "absorbed-by-kind",
                "Absorbed events by attacker kind",
                "attacker kind",
                "absorbed attack events (count)",
                kinds,
                [
                    Series(
                        n,
                        list(range(len(kinds))),
                        [float(treaties[n]["absorbed_by_kind"].get(k, 0)) for k in kinds],
                    )
                    for n in names
                ],
            ),
            "Low-and-slow attackers stay under every detector; no treaty stops what nobody reports.",
        )
    )
    params = {**results.get("campaign", {}), **results.get("member_params", {})}
    parts.append("<h2>Parameters</h2>")
    parts.append(_table(["parameter", "value"], [[k, str(v)] for k, v in params.items()]))
    stats = results.get("campaign_stats", {})
    if stats:
        parts.append("<h2>Campaign as generated</h2>")
        parts.append(_table(["statistic", "value"], [[k, v] for k, v in stats.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)
