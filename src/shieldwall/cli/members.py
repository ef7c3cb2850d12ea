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
    keygen.add_argument("--json", action="store_true")
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
    join.add_argument("--json", action="store_true")
    join.set_defaults(func=cmd_join)

    members = sub.add_parser("members", help="the alliance's members")
    actions = add_subparsers(members, "members_action")
    approve = actions.add_parser("approve", help="approve an applicant (secretariat)")
    approve.add_argument("name")
    add_admin_args(approve)
    approve.add_argument("--json", action="store_true")
    approve.set_defaults(func=cmd_approve)

    vote = actions.add_parser("vote", help="vote on an applicant (member, signed)")
    vote.add_argument("applicant")
    vote.add_argument("--reject", action="store_true", help="vote against (default: for)")
    add_member_args(vote)
    vote.add_argument("--json", action="store_true")
    vote.set_defaults(func=cmd_vote)

    suspend = actions.add_parser("suspend", help="suspend a member (secretariat)")
    suspend.add_argument("name")
    suspend.add_argument("--reason", default="suspended by the secretariat")
    add_admin_args(suspend)
    suspend.add_argument("--json", action="store_true")
    suspend.set_defaults(func=cmd_suspend)

    listing = actions.add_parser("list", help="list members")
    add_hub_args(listing)
    listing.add_argument("--json", action="store_true")
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
        print(key.public_key)
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
