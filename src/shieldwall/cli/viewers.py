"""``shieldwall viewers add|list|remove``: read tokens for the dashboard and the views."""

from __future__ import annotations

import argparse
import time
from typing import Any

from shieldwall.cli.credentials import Credentials, show_list, show_secret, timestamp
from shieldwall.hub.viewers import SQLiteViewers, new_token, viewers_path

VIEWERS = Credentials(
    "viewer",
    "token",
    SQLiteViewers,
    viewers_path,
    help="read tokens: who may read the dashboard and the views without being a member",
    name_help="who the token is for, e.g. noc-screen or alice",
    list_help="list viewers",
    remove="remove",
)


def register(sub: Any) -> None:
    VIEWERS.register(sub, cmd_add, cmd_list)


def cmd_add(args: argparse.Namespace) -> int:
    token = new_token()
    with VIEWERS.opened(args) as viewers:
        viewers.add(args.name, token, time.time())
    return show_secret(
        args,
        token,
        {"name": args.name, "token": token},
        f"read token for viewer '{args.name}'",
        "Paste it into the dashboard when it asks, or send 'Authorization: Bearer TOKEN' "
        "(the CLI: --token or SHIELDWALL_TOKEN). It reads; it changes nothing.",
    )


def cmd_list(args: argparse.Namespace) -> int:
    with VIEWERS.opened(args) as viewers:
        found = viewers.list()
    records = [{"name": v.name, "created_at": v.created_at} for v in found]
    cells = [(v.name, timestamp(v.created_at)) for v in found]
    return show_list(args, records, ("name", "created"), cells)
