"""``shieldwall agent replay LOGFILE``: run detection over an existing log, print matches.

With ``--json``: one JSON object per matched line, then one per offender with the
signal the agent would send. Without: a table of offenders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any

from shieldwall.agent.detect import SCENARIOS, DetectConfig, DetectionEngine, Offence
from shieldwall.agent.detect.prefixes import check_length
from shieldwall.agent.gc_pace import pace_for_logs
from shieldwall.agent.lines import replay_chunks
from shieldwall.cli.common import CLIError, console


def add_parser(actions: Any) -> None:
    p = actions.add_parser(
        "replay",
        help="run detection over an existing log file and list offenders",
        description=__doc__,
    )
    p.add_argument("logfile", type=Path, help="log file to read (.gz is fine)")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help=f"built-in scenario (repeatable; default all): {', '.join(SCENARIOS)}",
    )
    p.add_argument("--fail2ban-filter", type=Path, metavar="PATH", help="a fail2ban filter.d file")
    p.add_argument("--maxretry", type=int, default=5, help="fail2ban filter: failures to offend")
    p.add_argument("--findtime", type=float, default=600.0, help="fail2ban filter: window (s)")
    p.add_argument(
        "--prefix-v6",
        type=int,
        default=64,
        metavar="LEN",
        help="count IPv6 sources per /LEN as well as per address (128: per address only)",
    )
    p.add_argument(
        "--prefix-v4",
        type=int,
        default=32,
        metavar="LEN",
        help="count IPv4 sources per /LEN as well (default 32: per address only)",
    )
    p.add_argument("--member", default="replay", help="member name in the printed signals")
    p.add_argument("--json", action="store_true", help="JSON lines on stdout")
    p.set_defaults(func=run, leave_at_once=True)


def run(args: argparse.Namespace) -> int:
    path: Path = args.logfile
    if not path.is_file():
        raise CLIError(f"log file {str(path)!r} does not exist: check the path")
    if args.fail2ban_filter is not None and args.scenario:
        raise CLIError("give either --scenario or --fail2ban-filter, not both")
    if args.maxretry < 1 or not args.findtime > 0:
        raise CLIError("--maxretry must be >= 1 and --findtime > 0: e.g. --maxretry 5")
    try:
        check_length(args.prefix_v6, "--prefix-v6", 6)
        check_length(args.prefix_v4, "--prefix-v4", 4)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    pace_for_logs()
    now = time.time()
    out = sys.stdout
    emit = args.json
    if args.fail2ban_filter is not None:
        offences, label = _replay_filter(args, path, now, emit)
    else:
        offences, label = _replay_scenarios(args, path, now, emit)
    if emit:
        for o in offences:
            signal = o.to_signal(args.member)
            row = {
                "offender": o.source,
                label: o.scenario,
                "events": o.events,
                "first_seen": o.first_seen,
                "last_seen": o.last_seen,
                "sample_lines": list(o.sample_lines),
                "signal": {
                    "member": signal.member,
                    "target": signal.target,
                    "scenario": signal.scenario,
                    "at": signal.at,
                    "events": signal.events,
                },
            }
            out.write(json.dumps(row) + "\n")
        return 0
    _table(offences, args.member)
    return 0


def _replay_scenarios(
    args: argparse.Namespace, path: Path, now: float, emit: bool
) -> tuple[list[Offence], str]:
    config = DetectConfig()
    if args.scenario:
        try:
            config = config.only(args.scenario)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    lengths = {"prefix_v6": args.prefix_v6, "prefix_v4": args.prefix_v4}
    config = DetectConfig(
        {name: replace(t, **lengths) for name, t in config.thresholds.items()}, config.max_buckets
    )
    engine = DetectionEngine(config, record_events=emit)
    offences: list[Offence] = []
    for chunk in _chunks(path):
        offences.extend(engine.feed(chunk, now))
        if emit:
            for e in engine.events:
                row = {"line": e.line, "host": e.source, "scenario": e.scenario, "time": e.time}
                sys.stdout.write(json.dumps(row) + "\n")
            engine.events.clear()
    return offences, "scenario"


def _replay_filter(
    args: argparse.Namespace, path: Path, now: float, emit: bool
) -> tuple[list[Offence], str]:
    # here, not at the top: a replay of the built-in scenarios starts without them
    from shieldwall.agent.detect.fail2ban import FilterDetector, FilterRule, Match
    from shieldwall.interop.fail2ban.config import ConfigError
    from shieldwall.interop.fail2ban.filter import load_filter

    try:
        definition = load_filter(args.fail2ban_filter)
    except ConfigError as exc:
        raise CLIError(f"fail2ban filter {exc}") from None
    rule = FilterRule(
        f"fail2ban-{definition.name}",
        definition,
        args.maxretry,
        args.findtime,
        prefix_v6=args.prefix_v6,
        prefix_v4=args.prefix_v4,
    )
    detector = FilterDetector(rule, max_buckets=100_000)
    offences: list[Offence] = []
    matches: list[Match] | None = [] if emit else None
    for chunk in _chunks(path):
        offences.extend(detector.feed(chunk, now, matches))
        if matches:
            for m in matches:
                row = {"line": m.line, "host": m.host, "filter": definition.name, "time": m.time}
                sys.stdout.write(json.dumps(row) + "\n")
            matches.clear()
    return offences, "filter"


def _chunks(path: Path) -> Any:
    try:
        yield from replay_chunks(path)
    except OSError as exc:
        raise CLIError(
            f"cannot read {str(path)!r} ({exc.strerror or exc}): check the file"
        ) from None


#: Above this many offenders the table is written as plain aligned columns: laying out a
#: rich table costs milliseconds a row, more than the detection in an attack storm.
RICH_ROWS = 200


def _table(offences: list[Offence], member: str) -> None:
    title = f"offenders ({len(offences)} signals member {member!r} would send)"
    header = ("offender", "scenario", "events", "first seen", "last seen", "sample lines")
    # Column by column, each cell made by a C call per offence: a storm has thousands.
    when = _Stamps().__getitem__  # offences of a storm share their seconds
    columns = [
        [o.source for o in offences],
        [o.scenario for o in offences],
        list(map(str, map(_EVENTS, offences))),
        list(map(when, map(_FIRST, offences))),
        list(map(when, map(_LAST, offences))),
        [", ".join(map(str, o.sample_lines)) for o in offences],
    ]
    if len(offences) > RICH_ROWS:
        _plain_table(title, header, columns)
        return
    from rich.table import Table

    table = Table(title=title)
    table.add_column(header[0], no_wrap=True)
    table.add_column(header[1], no_wrap=True)
    for column in header[2:]:
        table.add_column(column, overflow="fold")
    for row in zip(*columns, strict=True):
        table.add_row(*row)
    console().print(table)


_EVENTS, _FIRST, _LAST = attrgetter("events"), attrgetter("first_seen"), attrgetter("last_seen")


class _Stamps(dict[float, str]):
    """A time as the table writes it, each one formatted once."""

    def __missing__(self, t: float) -> str:
        text = self[t] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
        return text


def _plain_table(title: str, header: tuple[str, ...], columns: list[list[str]]) -> None:
    widths = [max(len(name), max(map(len, column), default=0)) for name, column in zip(header, columns, strict=True)]  # fmt: skip
    # every column but the last padded to its width, as str.ljust pads
    line = "  ".join([*(f"{{:<{w}}}" for w in widths[:-1]), "{}"]).format
    sys.stdout.write("\n".join([title, line(*header), *map(line, *columns)]) + "\n")
