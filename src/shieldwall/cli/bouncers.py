"""``shieldwall bouncers add|list|delete``: keys for CrowdSec-compatible bouncers."""

from __future__ import annotations

import argparse
import time
from typing import Any

from shieldwall.cli.credentials import Credentials, show_list, show_secret, timestamp
from shieldwall.interop.keys import SQLiteBouncerKeys, bouncers_path, new_key

BOUNCERS = Credentials(
    "bouncer",
    "key",
    SQLiteBouncerKeys,
    bouncers_path,
    help="API keys for CrowdSec remediation components (bouncers)",
    name_help="a name for the bouncer, e.g. fw-web1",
    list_help="list bouncers and their last pull",
)


def register(sub: Any) -> None:
    BOUNCERS.register(sub, cmd_add, cmd_list).add_argument(
        "--member", default="", help="member it enforces for (receives that member's own decisions)"
    )


def cmd_add(args: argparse.Namespace) -> int:
    key = new_key()
    with BOUNCERS.opened(args) as keys:
        keys.add(args.name, key, time.time(), member=args.member)
    return show_secret(
        args,
        key,
        {"name": args.name, "member": args.member, "api_key": key},
        f"API key for bouncer '{args.name}'",
        "Put it in the bouncer's configuration as api_key, with api_url pointing at the hub.",
    )


def cmd_list(args: argparse.Namespace) -> int:
    with BOUNCERS.opened(args) as keys:
        bouncers = keys.list()
    records = [
        {
            "name": b.name,
            "member": b.member,
            "created_at": b.created_at,
            "last_pull": b.last_pull or None,
        }
        for b in bouncers
    ]
    cells = [
        (
            b.name,
            b.member or "-",
            timestamp(b.created_at),
            timestamp(b.last_pull) if b.last_pull else "never",
        )
        for b in bouncers
    ]
    return show_list(args, records, ("name", "member", "created", "last pull"), cells)
