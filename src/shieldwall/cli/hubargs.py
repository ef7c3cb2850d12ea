"""Arguments shared by commands that talk to a hub, and the client they build."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from shieldwall.cli.common import CLIError, check_key_mode
from shieldwall.client import HubClient, HubError
from shieldwall.signing import SigningKey


def add_hub_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hub",
        default=os.environ.get("SHIELDWALL_HUB", ""),
        help="hub URL, e.g. http://127.0.0.1:8470, or its nodes' URLs separated by commas "
        "(or SHIELDWALL_HUB)",
    )
    parser.add_argument(
        "--ca",
        type=Path,
        default=os.environ.get("SHIELDWALL_CA") or None,
        help="CA certificate (PEM) to trust for an https:// hub (or SHIELDWALL_CA)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("SHIELDWALL_TOKEN", ""),
        help="a read token from 'shieldwall viewers add', to read views (or SHIELDWALL_TOKEN)",
    )


def add_member_args(parser: argparse.ArgumentParser) -> None:
    add_hub_args(parser)
    parser.add_argument("--name", required=True, help="this member's name")
    parser.add_argument("--key", required=True, type=Path, help="this member's private key file")


def add_admin_args(parser: argparse.ArgumentParser) -> None:
    add_hub_args(parser)
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("SHIELDWALL_ADMIN_TOKEN", ""),
        help="the secretariat's token (or SHIELDWALL_ADMIN_TOKEN)",
    )


class _Client:
    """Opens a HubClient from parsed arguments; turns HubError into CLIError."""

    def __init__(self, args: argparse.Namespace) -> None:
        if not getattr(args, "hub", ""):
            raise CLIError(
                "no hub given: pass --hub URL (e.g. http://127.0.0.1:8470) or set SHIELDWALL_HUB"
            )
        key = None
        if getattr(args, "key", None) is not None:
            check_key_mode(Path(args.key))
            try:
                key = SigningKey.load(args.key)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
        token = getattr(args, "admin_token", None)
        if token is not None and not token:
            raise CLIError(
                "this needs the secretariat's --admin-token (printed by 'shieldwall hub init')"
            )
        ca = getattr(args, "ca", None)
        if ca is not None and not Path(ca).is_file():
            raise CLIError(f"--ca {str(ca)!r} does not exist: give the hub's CA certificate (PEM)")
        try:
            self.client = HubClient(
                args.hub,
                name=getattr(args, "name", None),
                key=key,
                admin_token=token,
                read_token=getattr(args, "token", "") or None,
                ca=Path(ca) if ca is not None else None,
            )
        except HubError as exc:
            raise CLIError(str(exc)) from None

    def __enter__(self) -> HubClient:
        return self.client

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        self.client.close()
        if isinstance(exc, HubError):
            raise CLIError(str(exc)) from None


def client_from(args: argparse.Namespace) -> _Client:
    return _Client(args)
