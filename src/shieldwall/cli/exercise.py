"""``shieldwall exercise``: simulated campaigns against the real council, treaty by treaty."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shieldwall.cli.common import CLIError, console
from shieldwall.exercise.report_html import figure

DEFAULT_COMPARE = "unilateral,nato,anzus,un,league"
# Flags that set a parameter --param could set as well (giving both is refused).
FLAG_PARAMS = (
    ("--events", "events"),
    ("--sources", "sources"),
    ("--rogue", "rogue"),
    ("--free-riders", "free_rider_share"),
)
# Switches that set a boolean parameter: (argument, flag, parameter, value it sets).
SWITCH_PARAMS = (
    ("collude", "--collude", "collude", True),
    ("no_self_defence", "--no-self-defence", "self_defence", False),
)
CONFIG_PARAMS = ("slice_s", "appeal_after_s")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "exercise",
        help="simulate attack campaigns and compare treaties side by side",
        description="Drive the real council with a virtual clock over simulated members "
        "and campaigns; compare treaties on the same seed.",
    )
    p.add_argument(
        "--compare",
        default=DEFAULT_COMPARE,
        help=f"comma-separated treaty templates or treaty .toml files (default {DEFAULT_COMPARE})",
    )
    p.add_argument("--members", type=int, default=200, help="number of members (default 200)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--events", type=int, help="attack events in the campaign (default 100000)")
    p.add_argument("--sources", type=int, help="attacking sources (default 2000)")
    p.add_argument("--rogue", type=int, help="rogue members reporting innocents (default 1)")
    p.add_argument("--collude", action="store_true", help="rogue members collude")
    p.add_argument(
        "--no-self-defence",
        dest="no_self_defence",
        action="store_true",
        help="members do not ban what their own detectors catch: the treaty alone "
        "(by default they do, and the JSON also holds the results without it)",
    )
    p.add_argument(
        "--free-riders",
        type=float,
        dest="free_riders",
        help="share of members that never report (default 0.10)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any campaign or member parameter (see docs/exercise.md)",
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="NAME=A..B",
        help="sweep one parameter, e.g. quorum=1..5 or rogue=0..10 (repeatable; "
        "each sweep varies one parameter with the same seed)",
    )
    p.add_argument(
        "--no-headline",
        dest="no_headline",
        action="store_true",
        help="skip the headline findings (rogue probe at quorum 1 and 2, league's "
        "reaction in a 4-member alliance); they are also skipped when --sweep is given",
    )
    p.add_argument("--json", type=Path, help="write results as JSON to this file")
    p.add_argument("--html", type=Path, help="write the HTML report with plots to this file")
    p.add_argument("--quiet", action="store_true", help="no table or progress bar")
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace) -> Any:
    # Imported here: NumPy is for this command only, not every command's start-up.
    from shieldwall.exercise import campaign as cmod
    from shieldwall.exercise import members as mmod
    from shieldwall.exercise.world import Config

    pairs: dict[str, str] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--param {item!r} is not KEY=VALUE: write e.g. --param nat_share=0.1")
        pairs[key.strip()] = value.strip()
    for flag, key in FLAG_PARAMS:
        value = getattr(args, flag.removeprefix("--").replace("-", "_"))
        if value is None:
            continue
        if key in pairs:
            raise CLIError(f"{flag} {value} contradicts --param {key}={pairs[key]}: give only one")
        pairs[key] = str(value)
    for attr, flag, key, on in SWITCH_PARAMS:
        if not getattr(args, attr):
            continue
        given = pairs.get(key)
        if given is not None and cmod.truth(given) is not on:
            raise CLIError(f"{flag} contradicts --param {key}={given}: give only one")
        pairs[key] = str(on).lower()
    camp_keys = {k: v for k, v in pairs.items() if k in cmod.CampaignParams.__dataclass_fields__}
    mem_keys = {k: v for k, v in pairs.items() if k in mmod.MemberParams.__dataclass_fields__}
    cfg_keys = {k: v for k, v in pairs.items() if k in CONFIG_PARAMS}
    unknown = set(pairs) - set(camp_keys) - set(mem_keys) - set(cfg_keys)
    if unknown:
        known = sorted(
            [
                *cmod.CampaignParams.__dataclass_fields__,
                *mmod.MemberParams.__dataclass_fields__,
                *CONFIG_PARAMS,
            ]
        )
        raise CLIError(
            f"unknown parameter {sorted(unknown)[0]!r}: choose one of {', '.join(known)}"
        )
    try:
        camp = cmod.CampaignParams(**cmod.coerce(cmod.CampaignParams, camp_keys))
        beh = mmod.MemberParams(**cmod.coerce(mmod.MemberParams, mem_keys))
        extra = cmod.coerce(Config, cfg_keys)
        return Config(members=args.members, seed=args.seed, campaign=camp, behaviour=beh, **extra)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def check_output(flag: str, path: Path | None) -> None:
    """Refuse an output path that cannot be written, before the exercise runs."""
    if path is None:
        return
    if path.is_dir():
        raise CLIError(f"{flag} {str(path)!r} is a directory: give a file name inside it")
    parent = path.parent
    if not parent.exists():
        raise CLIError(
            f"{flag} {str(path)!r}: directory {str(parent)!r} does not exist: create it first"
        )
    if not parent.is_dir():
        raise CLIError(f"{flag} {str(path)!r}: {str(parent)!r} is not a directory")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise CLIError(
            f"{flag} {str(path)!r} cannot be written ({exc.strerror}): choose another path"
        ) from None
    if not existed:
        os.unlink(path)


def write_output(flag: str, path: Path, text: str) -> None:
    try:
        path.write_text(text, "utf-8")
    except OSError as exc:
        raise CLIError(
            f"{flag} {str(path)!r} could not be written ({exc.strerror}): choose another path"
        ) from None


def run(args: argparse.Namespace) -> int:
    from shieldwall.exercise import headline as hl
    from shieldwall.exercise import ipv6
    from shieldwall.exercise import sweep as sw
    from shieldwall.exercise.report_html import render

    treaties = [t.strip() for t in args.compare.split(",") if t.strip()]
    if not treaties:
        raise CLIError("--compare is empty: give treaty names such as nato,unilateral")
    labels = [sw.label(t) for t in treaties]
    twice = sorted({name for name in labels if labels.count(name) > 1})
    if twice:
        raise CLIError(
            f"--compare {args.compare!r} names treaty {twice[0]!r} twice: list each once "
            "(treaty files are named by their file name)"
        )
    config = build_config(args)
    try:
        sweeps = [sw.parse_sweep(s) for s in args.sweep]
        sw.check(config, treaties, sweeps)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.json is not None and args.json == args.html:
        raise CLIError(f"--json and --html both write {str(args.json)!r}: give two files")
    check_output("--json", args.json)
    check_output("--html", args.html)

    out = console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=out,
        disable=args.quiet,
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def tick(label: str, fraction: float) -> None:
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=1.0)
        progress.update(tasks[label], completed=fraction)

    try:
        with progress:
            world, results = sw.compare(config, treaties, progress=tick)
            pure = (
                sw.pure_treaties(config, world, treaties, progress=tick)
                if world.self_defence
                else None
            )
            counting = ipv6.comparison(config, world, results, treaties, progress=tick)
            swept = [
                sw.sweep(config, treaties, name, values, progress=tick) for name, values in sweeps
            ]
            head = (
                None
                if sweeps or args.no_headline
                else hl.headline(config, treaties, world, progress=tick)
            )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    document = sw.results_document(config, world, results, swept, pure)
    if head is not None:
        document["headline"] = head
    if counting is not None:
        document["ipv6_prefix_counting"] = counting
    if args.json is not None:
        write_output("--json", args.json, json.dumps(document, indent=2) + "\n")
    if args.html is not None:
        write_output("--html", args.html, render(document))
    if not args.quiet:
        screen = console()
        if not screen.is_terminal or screen.width > WIDTH:  # tables made to fit WIDTH
            screen = Console(width=WIDTH, highlight=False)
        for part in tables(document):
            screen.print(part)
        if "treaties_without_self_defence" in document:
            for part in tables(document, "treaties_without_self_defence"):
                screen.print(part)
        if counting is not None:
            screen.print(prefix_counting_table(counting))
        for s in swept:
            screen.print(sweep_table(s))
        if head is not None:
            screen.print(headline_table(head))
    return 0


WIDTH = 100  # the terminal tables fit this many columns: split in two, headers wrap
COLUMNS = (
    ("attacks_absorbed", "absorbed"),
    ("attacks_blocked", "blocked"),
    ("possible_gain_captured", "gain captured"),
    ("protection_delay_p50_s", "delay p50 s"),
    ("protection_delay_p95_s", "delay p95 s"),
    ("protection_delay_multi_p50_s", "multi p50 s"),
    ("protection_delay_multi_online_p50_s", "online p50 s"),
    # -- the second table: what it cost and how the burden was shared
    ("false_bans", "false bans"),
    ("rogue_user_hours", "rogue user-h"),
    ("decisions", "decisions"),
    ("consultations", "consult."),
    ("contribution_gini", "Gini"),
    ("free_rider_gain", "free-rider gain"),
)


def shown(column: str, value: Any) -> str:
    """A table cell; a share of the possible gain that cannot be measured is "-"."""
    if value is None and column == "possible_gain_captured":
        return "-"
    return figure(value)


SPLIT = 7  # COLUMNS[:SPLIT]: what the treaty achieved; the rest: cost and burden


def tables(document: dict[str, Any], key: str = "treaties") -> list[Table]:
    """The results as two tables that each fit :data:`WIDTH` columns; a column with no
    value in any row, or the same in every row, is left out and said so below."""
    from shieldwall.exercise.labels import NEVER, informative

    whole = table(document, key)
    rows = list({**document[key], **document.get("reference", {})}.items())
    out = []
    for part, columns in enumerate((COLUMNS[:SPLIT], COLUMNS[SPLIT:])):
        kept, notes = informative(columns, [r for _, r in rows], figure)
        t = Table(title=whole.title if part == 0 else None, caption=None)
        t.add_column("treaty")
        for _, head in kept:
            t.add_column(head, justify="right", max_width=12)
        for name, r in rows:
            t.add_row(name, *[shown(k, r.get(k)) for k, _ in kept])
        never = any(r.get(k) is None for _, r in rows for k, _ in kept if "delay" in k)
        captions = (
            ([str(whole.caption)] if part == 0 and whole.caption else [])
            + ([NEVER] if never else [])
            + [f"left out: {n}" for n in notes]
        )
        t.caption = "\n".join(captions) or None
        out.append(t)
    return out


def table(document: dict[str, Any], key: str = "treaties") -> Table:
    local = document.get("self_defence", False) and key == "treaties"
    mode = (
        "members' local self-defence on"
        if local
        else "without local self-defence (the treaty alone)"
    )
    t = Table(
        title=f"shieldwall exercise: {document['members']} members, seed "
        f"{document['seed']}, {document['campaign']['events']:,} attack events, {mode}"
    )
    t.add_column("treaty")
    for _, head in COLUMNS:
        t.add_column(head, justify="right")
    rows = {**document[key], **document.get("reference", {})}
    for name, r in rows.items():
        t.add_row(name, *[shown(key, r.get(key)) for key, _ in COLUMNS])
    t.caption = (
        "gain captured: (unilateral absorbed - treaty absorbed) / (unilateral absorbed - "
        "oracle absorbed); the oracle blocks every attacker at every member once any "
        "detector catches it"
    )
    return t


def prefix_counting_table(part: dict[str, Any]) -> Table:
    """Absorbed events of IPv6 attackers rotating through their /64, counted per address
    and per /64 (``ipv6_prefix_counting`` in the JSON)."""
    t = Table(
        title=f"IPv6 attackers rotating through their /64: {part['ipv6_attackers']:,} "
        f"attackers, {part['ipv6_addresses']} addresses each, {part['ipv6_events']:,} events"
    )
    t.add_column("treaty")
    for head in ("IPv6 absorbed per address", "IPv6 absorbed per /64", "all absorbed per "
                 "address", "all absorbed per /64"):  # fmt: skip
        t.add_column(head, justify="right", max_width=16)
    for name, r in part["treaties"].items():
        t.add_row(
            name,
            figure(r["absorbed_ipv6_without_prefix_counting"]),
            figure(r["absorbed_ipv6_with_prefix_counting"]),
            figure(r["absorbed_without_prefix_counting"]),
            figure(r["absorbed_with_prefix_counting"]),
        )
    t.caption = "per address: detectors and council count single addresses (no prefix counting)"
    return t


def sweep_table(s: dict[str, Any]) -> Table:
    t = Table(title=f"sweep {s['parameter']} (false bans / absorbed events)")
    t.add_column(s["parameter"], justify="right")
    for name in s["treaties"]:
        t.add_column(name, justify="right")
    for i, value in enumerate(s["values"]):
        t.add_row(
            f"{value:g}",
            *[
                f"{rows[i]['false_bans']} / {rows[i]['attacks_absorbed']:,}"
                for rows in s["treaties"].values()
            ],
        )
    return t


def headline_table(head: dict[str, Any]) -> Table:
    """The headline findings: one rogue at quorum 1 and 2, and how fast treaties react."""
    t = Table(title="headline findings (same seed)")
    t.add_column("finding")
    t.add_column("treaty")
    t.add_column("setting", justify="right")
    t.add_column("result", justify="right")
    for row in head["rogue_probe"]:
        t.add_row(
            "one rogue alone",
            row["treaty"],
            f"quorum {row['quorum']}",
            f"{row['rogue_false_bans']} false bans, {figure(row['rogue_user_hours'])} user-h",
        )
    for row in head["reaction"]:
        t.add_row(
            "first decision",
            row["treaty"],
            f"{row['members']:,} members",
            f"{row['decisions']:,} decisions, {row['attackers_decided']:,}/"
            f"{row['detected_attackers']:,} attackers, p50 "
            f"{figure(row['first_decision_p50_s'])}"
            + ("" if row["first_decision_p50_s"] is None else " s")
            + (f" ({', '.join(row['actions'])})" if row["actions"] else ""),
        )
    return t
