"""``shieldwall partners add|list|delete``: credentials of TAXII partners."""

from __future__ import annotations

import argparse
import time
from typing import Any

from shieldwall.cli.common import CLIError
from shieldwall.cli.credentials import Credentials, show_list, show_secret, timestamp
from shieldwall.interop.hubdb import is_member
from shieldwall.interop.partners import SQLitePartners, check_name, new_secret, partners_path

PARTNERS = Credentials(
    "partner",
    "secret",
    SQLitePartners,
    partners_path,
    help="credentials of TAXII 2.1 partners (MISP, OpenCTI, …)",
    name_help="the partner's name, also its name as an external member",
    list_help="list partners",
)


def register(sub: Any) -> None:
    PARTNERS.register(sub, cmd_add, cmd_list).add_argument(
        "--write",
        action="store_true",
        help="let it POST STIX objects, which become its signals (default: read only)",
    )


def cmd_add(args: argparse.Namespace) -> int:
    try:
        check_name(args.name)
        if is_member(args.data, args.name):
            raise ValueError(
                f"partner name {args.name!r} is a member's name: give the partner another name"
            )
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    secret = new_secret()
    with PARTNERS.opened(args) as partners:
        partners.add(args.name, secret, time.time(), can_write=args.write)
    access = "; it may also write." if args.write else "; it may read only."
    return show_secret(
        args,
        secret,
        {"name": args.name, "can_write": args.write, "secret": secret},
        f"secret for TAXII partner '{args.name}'",
        "The partner uses HTTP Basic (name and secret) or 'Authorization: Bearer <secret>' "
        "at /taxii2/ on the hub" + access,
    )


def cmd_list(args: argparse.Namespace) -> int:
    with PARTNERS.opened(args) as partners:
        rows = partners.list()
    records = [{"name": p.name, "can_write": p.can_write, "created_at": p.created_at} for p in rows]
    cells = [
        (p.name, "read, write" if p.can_write else "read", timestamp(p.created_at)) for p in rows
    ]
    return show_list(args, records, ("name", "access", "created"), cells)
