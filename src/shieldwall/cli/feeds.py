"""``shieldwall feeds export FORMAT``: blocklists for tools that read files."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from shieldwall.cli.common import CLIError, add_subparsers
from shieldwall.interop import feeds
from shieldwall.interop.fail2ban_action import action_text, install_action
from shieldwall.interop.hubdb import active_decisions


def register(sub: Any) -> None:
    parser = sub.add_parser("feeds", help="blocklist feeds (nftables, ipset, nginx, fail2ban, …)")
    actions = add_subparsers(parser, "feeds_action")
    export = actions.add_parser("export", help="write the active decisions in one format")
    export.add_argument(
        "format",
        choices=list(feeds.FORMATS),
        metavar="FORMAT",
        help=f"one of {', '.join(feeds.FORMATS)}",
    )
    where = export.add_mutually_exclusive_group(required=True)
    where.add_argument("--hub", help="hub URL, e.g. https://hub.example:8443 (reads /feeds/FORMAT)")
    where.add_argument("--data", type=Path, help="the hub's data directory (on the hub host)")
    export.add_argument(
        "--output", "-o", type=Path, help="file to write atomically (default: stdout)"
    )
    export.add_argument("--set", default="shieldwall", help="nft/ipset set name prefix")
    export.add_argument("--table", default="shieldwall", help="nft table (family inet)")
    export.add_argument("--variable", default="shieldwall_blocked", help="nginx geo variable")
    export.add_argument("--jail", default="shieldwall", help="fail2ban jail")
    export.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout in seconds")
    export.set_defaults(func=cmd_export)

    action = actions.add_parser(
        "fail2ban-action", help="print or install fail2ban's action.d/shieldwall.conf"
    )
    action.add_argument(
        "--install",
        type=Path,
        metavar="DIR",
        help="fail2ban's configuration directory, e.g. /etc/fail2ban",
    )
    action.set_defaults(func=cmd_fail2ban_action)


def cmd_fail2ban_action(args: argparse.Namespace) -> int:
    if args.install is None:
        sys.stdout.write(action_text())
        return 0
    try:
        path = install_action(args.install)
    except (ValueError, OSError) as exc:
        raise CLIError(str(exc)) from None
    print(f"wrote {path}")
    return 0


def _from_hub(args: argparse.Namespace, opts: feeds.FeedOptions) -> str:
    url = args.hub.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CLIError(
            f"hub URL {args.hub!r} is not http(s): give one such as http://127.0.0.1:8080"
        )
    params = {
        "set": opts.set_name,
        "table": opts.table,
        "variable": opts.variable,
        "jail": opts.jail,
    }
    try:
        r = httpx.get(f"{url}/feeds/{args.format}", params=params, timeout=args.timeout)
    except httpx.HTTPError as exc:
        raise CLIError(
            f"cannot reach hub {url}: {exc}: check the URL and that it is running"
        ) from None
    if r.status_code != 200:
        raise CLIError(
            f"hub {url} answered {r.status_code} for /feeds/{args.format}: {r.text[:200]}"
        )
    return r.text


def cmd_export(args: argparse.Namespace) -> int:
    try:
        opts = feeds.FeedOptions(
            set_name=args.set, table=args.table, variable=args.variable, jail=args.jail
        )
        if args.hub:
            text = _from_hub(args, opts)
        else:
            text = feeds.render(args.format, active_decisions(args.data, time.time()), opts)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.output is None:
        sys.stdout.write(text)
        return 0
    _write_atomically(args.output, text)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """Consumers reading the file never see half of it."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    except OSError as exc:
        raise CLIError(f"cannot write {str(path)!r}: {exc.strerror}: check the directory") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        os.unlink(tmp)
        raise CLIError(f"cannot write {str(path)!r}: {exc.strerror}") from None
