"""``shieldwall report``: send one signed signal to the hub by hand (or from fail2ban)."""

from __future__ import annotations

import argparse
import difflib
import time
from typing import Any

from shieldwall.cli.common import CLIError, console, print_json
from shieldwall.cli.hubargs import add_member_args, client_from
from shieldwall.core.addresses import as_target, parse_network

JAIL_PREFIX = "fail2ban-"  # the fail2ban action reports a jail's bans as fail2ban-JAIL


def register(sub: Any) -> None:
    report = sub.add_parser("report", help="report an attacker to the hub (signed)")
    add_member_args(report)
    report.add_argument("attacker", help="the attacker's IP address or CIDR range")
    report.add_argument("scenario", help="what it did, e.g. ssh-bruteforce")
    report.add_argument("--events", type=int, default=1, help="how many attack events this covers")
    report.add_argument("--json", action="store_true", help="print the result as JSON")
    report.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    try:
        attacker = as_target(parse_network(args.attacker)).text  # sent and shown as parsed
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.events < 1:
        raise CLIError(f"--events {args.events} must be at least 1")
    signal = {
        "target": attacker,
        "scenario": args.scenario,
        "at": time.time(),
        "events": args.events,
    }
    with client_from(args) as client:  # the key is checked first, then the scenario
        check_scenario(args.scenario)
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
    out.print(reported_line(attacker, result), markup=False)
    return 0


def _ids(what: str, ids: list[Any]) -> str:
    return f"{what}{'s' if len(ids) > 1 else ''} {', '.join(f'#{i}' for i in ids)}"


def reported_line(attacker: str, result: dict[str, Any]) -> str:
    """What the hub made of one report, in words: ids are shown as ids, not counts."""
    if result.get("decisions"):
        return f"reported {attacker}: {_ids('decision', result['decisions'])} issued"
    if result.get("consultations"):
        ids = result["consultations"]
        return (
            f"reported {attacker}: {_ids('consultation', ids)} open, "
            "awaiting corroboration by other members"
        )
    reasons = "; ".join(n["reason"] for n in result.get("no_action", [])) or "recorded"
    return f"reported {attacker}: {reasons}"


def check_scenario(name: str) -> str:
    """``name`` if it is a scenario the agent detects or a fail2ban jail's; else CLIError."""
    from shieldwall.agent.detect.scenarios import SCENARIOS

    if name in SCENARIOS or (name.startswith(JAIL_PREFIX) and len(name) > len(JAIL_PREFIX)):
        return name
    close = difflib.get_close_matches(name, list(SCENARIOS), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise CLIError(
        f"scenario {name!r} is unknown: {hint}give one of {', '.join(sorted(SCENARIOS))}, "
        f"or {JAIL_PREFIX}JAIL for a fail2ban jail"
    )
