"""Helpers shared by the CLI subcommands: errors, JSON output, argument types."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class CLIError(Exception):
    """An error the user can fix; printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def error_line(message: str) -> str:
    return f"shieldwall: error: {message}"


def console(stderr: bool = False) -> Console:
    from rich.console import Console  # on first use: one-shot commands start quicker

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def add_subparsers(parser: argparse.ArgumentParser, title: str) -> Any:
    sub = parser.add_subparsers(dest=title, metavar="ACTION", parser_class=type(parser))
    sub.required = True
    return sub


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"file {value!r} does not exist: check the path")
    return path


def listen_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(
            f"listen address {value!r} is not HOST:PORT: give one such as 127.0.0.1:8080"
        )
    return host.strip("[]"), int(port)


def check_key_mode(path: Path) -> None:
    """Refuse a private key others may read, as ssh does (``shieldwall keygen`` writes 0600)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # SigningKey.load says what is wrong with it
    if mode & 0o077:
        raise CLIError(
            f"key file {str(path)!r} is readable by other users (mode {mode & 0o777:03o}): "
            f"run 'chmod 600 {path}'"
        )
