"""Plumbing shared by ``shieldwall bouncers`` and ``shieldwall partners``.

Both manage credentials kept in a SQLite file beside the hub's database, with the
same three actions (``add NAME``, ``list``, ``delete NAME`` or ``remove NAME``), the same ``--data`` and
``--json`` options, and a secret printed once when it is made. A command module
describes itself with :class:`Credentials` and writes only its ``add`` and ``list``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rich.table import Table

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json

Command = Callable[[argparse.Namespace], int]


class Store(Protocol):
    def close(self) -> None: ...
    def delete(self, name: str) -> bool: ...


S = TypeVar("S", bound=Store)


@dataclass(frozen=True, slots=True)
class Credentials(Generic[S]):
    """One kind of credential: its names in help and messages, and how to open its store."""

    kind: str  # "bouncer": the command is "bouncers"
    secret: str  # what its secret is called: "key"
    store: Callable[[Path], S]  # opens the store file
    path: Callable[[Path], Path]  # where that file is in a hub data directory
    help: str
    name_help: str
    list_help: str
    remove: str = "delete"  # the action that deletes one: "delete" or "remove"

    @property
    def command(self) -> str:
        return f"{self.kind}s"

    def register(self, sub: Any, add: Command, listing: Command) -> argparse.ArgumentParser:
        """Add the command and its three actions; returns the ``add`` parser for its options."""
        parser = sub.add_parser(self.command, help=self.help)
        actions = add_subparsers(parser, f"{self.command}_action")
        add_parser = actions.add_parser(
            "add", help=f"register a {self.kind}; prints its {self.secret} once"
        )
        add_parser.add_argument("name", help=self.name_help)
        list_parser = actions.add_parser("list", help=self.list_help)
        delete_parser = actions.add_parser(
            self.remove, help=f"{self.remove} a {self.kind}; its {self.secret} stops working"
        )
        delete_parser.add_argument("name", help=self.name_help)
        for p, func in ((add_parser, add), (list_parser, listing), (delete_parser, self.delete)):
            p.add_argument("--data", required=True, type=Path, help="the hub's data directory")
            p.add_argument("--json", action="store_true", help="machine-readable output")
            p.set_defaults(func=func)
        return add_parser

    @contextmanager
    def opened(self, args: argparse.Namespace) -> Iterator[S]:
        """The store of ``args.data``, closed afterwards; its ValueErrors as CLIError."""
        try:
            store = self.store(self.path(args.data))
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        try:
            yield store
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        finally:
            store.close()

    def delete(self, args: argparse.Namespace) -> int:
        with self.opened(args) as store:
            found = store.delete(args.name)
        if not found:
            raise CLIError(
                f"{self.kind} {args.name!r} does not exist: see 'shieldwall {self.command} list'"
            )
        if args.json:
            print_json({f"{self.remove}d": args.name})
        else:
            console().print(f"{self.kind} '{args.name}' {self.remove}d")
        return 0


def show_secret(
    args: argparse.Namespace, secret: str, record: dict[str, Any], heading: str, advice: str
) -> int:
    """Print a new secret once: ``record`` (which holds it) as JSON, or as text."""
    if args.json:
        print_json(record)
        return 0
    out = console()
    out.print(f"{heading} (shown once, store it now):")
    out.print(f"\n    {secret}\n", markup=False)
    out.print(advice)
    return 0


def show_list(
    args: argparse.Namespace,
    records: list[dict[str, Any]],
    header: Sequence[str],
    cells: Sequence[Sequence[str]],
) -> int:
    """``records`` as JSON, or a table of ``cells`` under ``header``."""
    if args.json:
        print_json(records)
        return 0
    table = Table(*header)
    for row in cells:
        table.add_row(*row)
    console().print(table)
    return 0


def timestamp(at: float) -> str:
    """``at`` (seconds since the epoch) as UTC ``YYYY-MM-DD HH:MM:SS``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))
