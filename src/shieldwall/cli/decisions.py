"""``shieldwall decisions|consultations|invoke|veto``: what the alliance decided."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from rich.table import Table

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json
from shieldwall.cli.hubargs import add_admin_args, add_hub_args, add_member_args, client_from


def register(sub: Any) -> None:
    decisions = sub.add_parser("decisions", help="the alliance's decisions")
    actions = add_subparsers(decisions, "decisions_action")

    listing = actions.add_parser("list", help="active decisions")
    add_hub_args(listing)
    listing.add_argument("--ip", help="only decisions covering this IP or range")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    revoke = actions.add_parser("revoke", help="revoke a decision (secretariat)")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--reason", default="revoked by the secretariat")
    revoke.add_argument(
        "--appeal", action="store_true", help="an upheld appeal: reporters lose reputation"
    )
    add_admin_args(revoke)
    revoke.add_argument("--json", action="store_true")
    revoke.set_defaults(func=cmd_revoke)

    veto = actions.add_parser("veto", help="veto a collective decision (permanent members)")
    veto.add_argument("id", type=int)
    add_member_args(veto)
    veto.add_argument("--json", action="store_true")
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
    clist.add_argument("--json", action="store_true")
    clist.set_defaults(func=cmd_consultations)

    invoke = sub.add_parser(
        "invoke", help="invoke collective defence: this member is under heavy attack"
    )
    add_member_args(invoke)
    invoke.add_argument("--json", action="store_true")
    invoke.set_defaults(func=cmd_invoke)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def cmd_list(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.decisions(ip=args.ip)
    if args.json:
        print_json(result)
        return 0
    table = Table("id", "target", "action", "scenario", "clause", "members", "expires")
    for d in result["decisions"]:
        table.add_row(
            str(d["id"]),
            d["target"],
            d["action"] + (" (rec.)" if d["recommended"] else ""),
            d["scenario"],
            d["clause"],
            ", ".join(d["members"]),
            _when(d["expires_at"]),
        )
    console().print(table)
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
