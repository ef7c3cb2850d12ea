"""``shieldwall decisions|consultations|invoke|veto``: what the alliance decided."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json
from shieldwall.cli.hubargs import add_admin_args, add_hub_args, add_member_args, client_from


def register(sub: Any) -> None:
    decisions = sub.add_parser("decisions", help="the alliance's decisions")
    actions = add_subparsers(decisions, "decisions_action")

    listing = actions.add_parser("list", help="active decisions")
    add_hub_args(listing)
    listing.add_argument("--ip", help="only decisions covering this IP or range")
    listing.add_argument("--json", action="store_true", help="print the result as JSON")
    listing.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a decision (secretariat)")
    revoke.add_argument("id", type=int, help="the decision's id (see 'decisions list')")
    revoke.add_argument(
        "--reason",
        default="revoked by the secretariat",
        help="why, recorded and streamed with the revocation",
    )
    revoke.add_argument(
        "--appeal", action="store_true", help="an upheld appeal: reporters lose reputation"
    )
    add_admin_args(revoke)
    revoke.add_argument("--json", action="store_true", help="print the result as JSON")
    revoke.set_defaults(func=cmd_revoke)

    veto = actions.add_parser("veto", help="veto a collective decision (permanent members)")
    veto.add_argument("id", type=int, help="the decision's id (see 'decisions list')")
    add_member_args(veto)
    veto.add_argument("--json", action="store_true", help="print the result as JSON")
    veto.set_defaults(func=cmd_veto)

    watch = actions.add_parser("watch", help="follow the live decision stream")
    add_member_args(watch)
    watch.add_argument("--after", type=int, help="resume after this event id")
    watch.add_argument("--count", type=int, default=0, help="stop after this many events")
    watch.set_defaults(func=cmd_watch)

    consultations = sub.add_parser("consultations", help="open consultations")
    cactions = add_subparsers(consultations, "consultations_action")
    clist = cactions.add_parser("list", help="consultations awaiting corroboration")
    add_hub_args(clist)
    clist.add_argument("--all", action="store_true", help="closed ones too")
    clist.add_argument("--json", action="store_true", help="print the result as JSON")
    clist.set_defaults(func=cmd_consultations)

    invoke = sub.add_parser(
        "invoke", help="invoke collective defence: this member is under heavy attack"
    )
    add_member_args(invoke)
    invoke.add_argument("--json", action="store_true", help="print the result as JSON")
    invoke.set_defaults(func=cmd_invoke)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


DECISION_COLUMNS = ("id", "target", "action", "scenario", "clause", "members", "expires")


def _decision_row(d: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(d["id"]),
        str(d["target"]),
        d["action"] + (" (rec.)" if d["recommended"] else ""),
        d["scenario"],
        d["clause"],
        ",".join(d["members"]),
        _when(d["expires_at"]),
    )


def show_decisions(decisions: list[dict[str, Any]], out: Console) -> None:
    """Decisions as a table; one block per decision where a table would not fit;
    tab-separated lines when piped. A target is never cut, however long.
    """
    rows = [_decision_row(d) for d in decisions]
    if not out.is_terminal:
        out.file.write("".join("\t".join(row) + "\n" for row in (DECISION_COLUMNS, *rows)))
        return
    widths = [max(len(c) for c in column) for column in zip(DECISION_COLUMNS, *rows, strict=True)]
    if sum(widths) + 3 * (len(widths) - 1) <= out.width:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for name in DECISION_COLUMNS:
            table.add_column(name, no_wrap=True)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    for id_, target, action, scenario, clause, members, expires in rows:
        out.print(f"#{id_} {target}", markup=False, highlight=False, soft_wrap=True)
        details = f"{action} {scenario} ({clause}) until {expires} by {members.replace(',', ', ')}"
        out.print(Padding(Text(details), (0, 0, 0, 3)), highlight=False)


def cmd_list(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.decisions(ip=args.ip)
    if args.json:
        print_json(result)
        return 0
    show_decisions(result["decisions"], console())
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.revoke(args.id, args.reason, appeal=args.appeal)
    if args.json:
        print_json(result)
    else:
        console().print(f"revoked decision {args.id}")
    return 0


def cmd_veto(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.veto(args.id)
    if args.json:
        print_json(result)
    else:
        console().print(f"vetoed decision {args.id}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    seen = 0
    with client_from(args) as client:
        for event in client.stream(after=args.after):
            if event.kind == "skip":
                continue
            print(
                json.dumps({"id": event.id, "event": event.kind, "data": json.loads(event.data)}),
                flush=True,
            )
            seen += 1
            if args.count and seen >= args.count:
                return 0
    raise CLIError("the stream ended: the hub closed the connection")


def cmd_consultations(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.consultations(all_=args.all)
    if args.json:
        print_json(result)
        return 0
    table = Table("id", "target", "scenario", "status", "members", "closes")
    for c in result["consultations"]:
        table.add_row(
            str(c["id"]),
            c["target"],
            c["scenario"],
            c["status"],
            ", ".join(c["members"]),
            _when(c["closes_at"]),
        )
    console().print(table)
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.invoke()
    if args.json:
        print_json(result)
    else:
        console().print(f"collective defence invoked by {args.name}")
    return 0
