"""``shieldwall agent ...``: the member agent's subcommands.

Each action lives in its own module exposing ``add_parser(actions)``; adding one is a
single line in ``ACTIONS``. A command line naming its action loads that module alone
(``agent replay`` starts without the daemon's modules).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

from shieldwall.cli.common import add_subparsers

#: action -> the module of this package that adds it, in the order help lists them
ACTIONS = {"init": "agent_init", "run": "agent_run", "replay": "agent_replay"}


def register(subparsers: Any, rest: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Add ``agent`` and its actions: only the one ``rest`` (the words after ``agent``)
    names, when it names one."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="member agent: detect attacks in logs, report, enforce"
    )
    actions = add_subparsers(parser, "agent_action")
    wanted = [rest[0]] if rest and rest[0] in ACTIONS else list(ACTIONS)
    for action in wanted:
        importlib.import_module(f"shieldwall.cli.{ACTIONS[action]}").add_parser(actions)
    return parser
