"""``shieldwall report``: send one signed signal to the hub by hand (or from fail2ban)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from shieldwall.cli.common import CLIError, console, print_json
from shieldwall.cli.hubargs import add_member_args, client_from
from shieldwall.core.addresses import parse_network


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="report an attacker to the hub (signed)")
    add_member_args(report)
    report.add_argument("attacker", help="the attacker's IP address or CIDR range")
    report.add_argument("scenario", help="what it did, e.g. ssh-bruteforce")
    report.add_argument("--events", type=int, default=1, help="how many attack events this covers")
    report.add_argument("--json", action="store_true")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    try:
        parse_network(args.attacker)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.events < 1:
        raise CLIError(f"--events {args.events} must be at least 1")
    signal = {
        "target": args.attacker,
        "scenario": args.scenario,
        "at": time.time(),
        "events": args.events,
    }
    with client_from(args) as client:
        result = client.submit([signal])
    disputed = bool(result.get("disputes"))
    if args.json:
        print_json(result)
        return 1 if disputed else 0
    out = console()
    if disputed:
        for d in result["disputes"]:
            out.print(
                f"[bold red]refused[/]: {d['target']} is protected ({d['reason']}); "
                f"recorded as dispute #{d['id']}"
            )
        return 1
    if result.get("decisions"):
        out.print(
            f"reported {args.attacker}: decision(s) {', '.join(map(str, result['decisions']))} issued"
        )
    elif result.get("consultations"):
        out.print(
            f"reported {args.attacker}: consultation(s) "
            f"{', '.join(map(str, result['consultations']))} open, awaiting corroboration"
        )
    else:
        reasons = "; ".join(n["reason"] for n in result.get("no_action", [])) or "recorded"
        out.print(f"reported {args.attacker}: {reasons}")
    return 0
