"""``shieldwall keygen|join|members …``: identities and accession."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json
from shieldwall.cli.hubargs import add_admin_args, add_hub_args, add_member_args, client_from
from shieldwall.signing import SigningKey


def register(sub: Any) -> None:
    keygen = sub.add_parser("keygen", help="create a member's Ed25519 key (mode 0600)")
    keygen.add_argument("keyfile", type=Path, help="where to write the private key")
    keygen.add_argument("--json", action="store_true", help="print the result as JSON")
    keygen.set_defaults(func=cmd_keygen)

    join = sub.add_parser("join", help="ask a hub to admit this member")
    add_member_args(join)
    join.add_argument(
        "--address",
        action="append",
        required=True,
        metavar="CIDR",
        help="an address this member owns (repeat)",
    )
    join.add_argument("--json", action="store_true", help="print the result as JSON")
    join.set_defaults(func=cmd_join)

    members = sub.add_parser("members", help="the alliance's members")
    actions = add_subparsers(members, "members_action")
    approve = actions.add_parser("approve", help="approve an applicant (secretariat)")
    approve.add_argument("name", help="the applicant's name")
    add_admin_args(approve)
    approve.add_argument("--json", action="store_true", help="print the result as JSON")
    approve.set_defaults(func=cmd_approve)

    reject = actions.add_parser("reject", help="reject an applicant (secretariat)")
    reject.add_argument("name", help="the applicant's name")
    add_admin_args(reject)
    reject.add_argument("--json", action="store_true", help="print the result as JSON")
    reject.set_defaults(func=cmd_reject)

    vote = actions.add_parser("vote", help="vote on an applicant (member, signed)")
    vote.add_argument("applicant", help="the applicant's name")
    vote.add_argument("--reject", action="store_true", help="vote against (default: for)")
    add_member_args(vote)
    vote.add_argument("--json", action="store_true", help="print the result as JSON")
    vote.set_defaults(func=cmd_vote)

    suspend = actions.add_parser("suspend", help="suspend a member (secretariat)")
    suspend.add_argument("name", help="the member's name")
    suspend.add_argument(
        "--reason",
        default="suspended by the secretariat",
        help="why, recorded with the suspension",
    )
    add_admin_args(suspend)
    suspend.add_argument("--json", action="store_true", help="print the result as JSON")
    suspend.set_defaults(func=cmd_suspend)

    listing = actions.add_parser("list", help="list members")
    add_hub_args(listing)
    listing.add_argument("--json", action="store_true", help="print the result as JSON")
    listing.set_defaults(func=cmd_list)


def cmd_keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    try:
        key.save(args.keyfile)
    except FileExistsError:
        raise CLIError(
            f"key file {str(args.keyfile)!r} exists: choose another path or remove it"
        ) from None
    except OSError as exc:
        raise CLIError(f"cannot write key file {str(args.keyfile)!r}: {exc.strerror}") from None
    if args.json:
        print_json({"keyfile": str(args.keyfile), "public_key": key.public_key})
    else:
        print(f"private key written to {args.keyfile} (mode 0600): keep it on this member")
        print(f"public key: {key.public_key}")
    return 0


def _show_member(args: argparse.Namespace, result: dict[str, Any], verb: str) -> int:
    if args.json:
        print_json(result)
    else:
        console().print(f"{verb} [bold]{result.get('name')}[/]: status {result.get('status')}")
    return 0


def cmd_join(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        return _show_member(args, client.join(args.address), "applied")


def cmd_approve(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        return _show_member(args, client.approve(args.name), "approved")


def cmd_reject(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        return _show_member(args, client.reject(args.name), "rejected")


def cmd_vote(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        return _show_member(args, client.vote(args.applicant, not args.reject), "voted on")


def cmd_suspend(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        return _show_member(args, client.suspend(args.name, args.reason), "suspended")


def cmd_list(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.members()
    if args.json:
        print_json(result)
        return 0
    table = Table("name", "status", "reputation", "probation", "standing", "addresses")
    for m in result["members"]:
        table.add_row(
            m["name"],
            str(m.get("status")),
            f"{m.get('reputation', 0):.1f}",
            "yes" if m.get("probation") else "no",
            str(m.get("standing")),
            ", ".join(m.get("addresses", [])),
        )
    console().print(table)
    return 0
