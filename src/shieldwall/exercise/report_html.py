"""The exercise report: one self-contained HTML page with inline SVG plots.

No scripts, stylesheets or fonts are fetched: the page opens offline. Input is the
results dictionary the engine writes as JSON, so a saved results.json can be rendered
again later.
"""

from __future__ import annotations

from html import escape
from typing import Any

from shieldwall.exercise import labels
from shieldwall.exercise.svg import Series, Style, bar_chart, line_chart, styles_for

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 2em;max-width:1400px;color:#222}
.wide{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{vertical-align:bottom}
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}
svg.chart{width:100%;height:auto;display:block}
.note{color:#555;font-size:13px}
dl.glossary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:13px}
dl.glossary dt{font-weight:600}dl.glossary dd{margin:0}
"""

# The treaties table, in two parts so that each fits the page.
OUTCOMES = (
    ("attacks_absorbed", "absorbed events"),
    ("attacks_blocked", "blocked events"),
    ("blocked_share", "blocked (% of events)"),
    ("possible_gain_captured", "share of possible gain captured"),
    ("blocked_locally_only", "blocked by a local ban alone"),
    ("protection_delay_p50_s", "delay p50 (s)"),
    ("protection_delay_p95_s", "delay p95 (s)"),
    ("protection_delay_multi_p50_s", "multi-network p50 (s)"),
    ("protection_delay_multi_online_p50_s", "multi, online members p50 (s)"),
    ("protected_share", "detected attackers protected everywhere (%)"),
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
    results: dict[str, Any],
    parameter: str,
    metric: str,
    title: str,
    xlabel: str,
    ylabel: str,
    styles: dict[str, Style] | None = None,
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
        styles=styles,
    )
    return _figure(chart, caption)


ALERT_SWEEPS = ("alert_maxretry", "alert_window", "alert")


def _tradeoff(results: dict[str, Any], styles: dict[str, Style] | None = None) -> str:
    """Absorbed events against benign user-hours over a sweep of the alert settings,
    one line per treaty, with the oracle (and the treaties as run) marked."""
    sweep = next((s for p in ALERT_SWEEPS if (s := _sweep(results, p)) is not None), None)
    if sweep is None:
        return (
            '<p class="note" id="missing-tradeoff">No sweep of the alert settings in this run: '
            "add <code>--sweep alert_maxretry=1..10</code> (or <code>alert_window=...</code>) "
            "to plot absorbed events against benign user-hours.</p>"
        )
    parameter = sweep["parameter"]
    series = [
        Series(
            name,
            [float(row.get("false_ban_user_hours") or 0.0) for row in rows],
            [float(row.get("attacks_absorbed") or 0.0) for row in rows],
        )
        for name, rows in sweep["treaties"].items()
    ]
    series += [
        Series(name, [float(r.get("false_ban_user_hours") or 0.0)], [float(r["attacks_absorbed"])])
        for name, r in results.get("reference", {}).items()
    ]
    chart = line_chart(
        "tradeoff-alert",
        f"Trade-off over {parameter}",
        "benign users blocked (user-hours)",
        "absorbed attack events (count)",
        series,
        styles=styles,
    )
    values = ", ".join(f"{float(v):g}" for v in sweep["values"])
    caption = (
        f"Each treaty played at {parameter} = {values} (same seed), from the first value "
        "to the last along its line. Down and to the left is better; the oracle is the "
        "limit on this world (every caught attacker blocked everywhere at once, no false "
        "ban). Treaties without the alert clause stay at one point."
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


def _prefix_counting(part: dict[str, Any] | None) -> list[str]:
    """IPv6 attackers' absorbed events with and without prefix counting (exercise.ipv6)."""
    if not part:
        return []
    rows = [
        [
            name,
            r["absorbed_ipv6_without_prefix_counting"],
            r["absorbed_ipv6_with_prefix_counting"],
            r["absorbed_without_prefix_counting"],
            r["absorbed_with_prefix_counting"],
        ]
        for name, r in part["treaties"].items()
    ]
    return [
        "<h3 id='prefix-counting'>IPv6 attackers rotating through their /64</h3>",
        f"<p class='note'>{cell(part['ipv6_attackers'])} IPv6 attackers, each rotating "
        f"through {cell(part['ipv6_addresses'])} addresses of its /64, sent "
        f"{cell(part['ipv6_events'])} attack events. Without prefix counting detectors and "
        "council count single addresses; with it they count the /64 as well and decisions "
        "cover it.</p>",
        _table(
            [
                "treaty",
                "IPv6 absorbed, per address",
                "IPv6 absorbed, per /64",
                "all absorbed, per address",
                "all absorbed, per /64",
            ],
            rows,
        ),
    ]


def _treaty_tables(treaties: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """What each treaty achieved, then what it cost and how it shared the burden; the
    reference rows (the oracle) last."""
    treaties = {**treaties, **reference}
    out = []
    for all_columns in (OUTCOMES, COSTS):
        columns, notes = labels.informative(all_columns, list(treaties.values()), figure)
        out.append(
            _table(
                ["treaty", *[h for _, h in columns]],
                [[n, *[_value(k, r.get(k)) for k, _ in columns]] for n, r in treaties.items()],
            )
        )
        delays = [k for k, _ in columns if "delay" in k]
        if any(r.get(k) is None for r in treaties.values() for k in delays):
            out.append(f"<p class='note never'>{escape(labels.NEVER)}.</p>")
        if notes:
            out.append(
                "<p class='note columns-left-out'>Left out, as they tell the treaties apart "
                f"in nothing here: {escape('; '.join(notes))}.</p>"
            )
    return out


def _value(key: str, value: Any) -> Any:
    """A table value as shown: shares in per cent."""
    if key in labels.PERCENT and isinstance(value, (int, float)):
        return round(float(value) * 100, 1)
    return value


def _lorenz(name: str, result: dict[str, Any], curve: dict[str, list[float]]) -> Series:
    shares = curve["contribution_pct"]
    if not shares or shares[-1] <= 0:  # nobody contributed: no curve to draw
        return Series(f"{name}: none", [], [], key=name)
    gini = float(result.get("contribution_gini") or 0.0)
    return Series(f"{name} G={gini:.2f}", curve["members_pct"], shares, key=name)


def render(results: dict[str, Any]) -> str:
    treaties: dict[str, Any] = results.get("treaties", {})
    reference: dict[str, Any] = results.get("reference", {})
    series: dict[str, Any] = results.get("series", {})
    names = list(treaties)
    # One look per treaty (and the oracle) in every plot of the report.
    styles = styles_for([*names, *reference])
    hours = float(results.get("campaign", {}).get("duration_s", 0.0)) / 3600.0
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
        *_treaty_tables(treaties, reference),
        "<p class='note' id='oracle'>The oracle row is the limit on this world: every "
        "attacker that any member's detector catches is blocked at every member from that "
        "moment, with no delay and no false ban. Share of possible gain captured = "
        "(unilateral absorbed - treaty absorbed) / (unilateral absorbed - oracle absorbed)."
        "</p>",
    ]
    pure: dict[str, Any] = results.get("treaties_without_self_defence", {})
    if pure:
        parts.append(
            "<h3 id='without-self-defence'>The treaties alone (no local self-defence)</h3>"
        )
        parts.extend(_treaty_tables(pure, reference))

    parts.extend(_prefix_counting(results.get("ipv6_prefix_counting")))
    parts.extend(_headline(results.get("headline")))

    plotted = {**series, **results.get("reference_series", {})}
    cum = [
        Series(n, plotted[n]["cumulative"]["t_h"], plotted[n]["cumulative"]["absorbed"])
        for n in [*names, *reference]
        if n in plotted
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
                x_range=(0.0, hours) if hours > 0 else None,
                styles=styles,
            ),
            "Attack events that reached a member, over time. Lower is better.",
        )
    )
    ecdf = [
        Series(
            n if series[n]["delay_ecdf"]["delay_s"] else f"{n} (never)",
            series[n]["delay_ecdf"]["delay_s"],
            series[n]["delay_ecdf"]["share_pct"],
            key=n,
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
                styles=styles,
            ),
            "Share of detected attackers against which every member was protected within "
            "the delay. Curves that stay low never protect everyone.",
        )
    )
    parts.append(_tradeoff(results, styles))
    parts.append(
        _sweep_chart(
            results,
            "quorum",
            "false_bans",
            "False bans against quorum",
            "quorum (distinct members)",
            "false bans (decisions)",
            styles,
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
            styles,
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
                styles=styles,
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
                styles=styles,
            ),
            "Low-and-slow attackers stay under every detector; no treaty stops what nobody reports.",
        )
    )
    params = {**results.get("campaign", {}), **results.get("member_params", {})}
    parts.append("<h2 id='glossary'>Glossary</h2><dl class='glossary'>")
    parts.extend(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in labels.GLOSSARY)
    parts.append("</dl>")
    parts.append("<h2 id='parameters'>Parameters</h2>")
    parts.append(_table(["parameter", "value"], [list(row) for row in labels.parameters(params)]))
    stats = results.get("campaign_stats", {})
    if stats:
        parts.append("<h2>Campaign as generated</h2>")
        parts.append(_table(["statistic", "value"], [[k, v] for k, v in stats.items()]))
    parts.append("</body></html>")
    return "\n".join(parts)
