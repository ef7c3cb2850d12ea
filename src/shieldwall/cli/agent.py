"""``shieldwall agent ...``: the member agent's subcommands.

Each action lives in its own module exposing ``add_parser(actions)``; adding one is a
single line in ``ACTIONS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from shieldwall.cli import agent_init, agent_replay, agent_run
from shieldwall.cli.common import add_subparsers

ACTIONS: list[Callable[[Any], None]] = [
    agent_init.add_parser,
    agent_run.add_parser,
    agent_replay.add_parser,
]


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="member agent: detect attacks in logs, report, enforce"
    )
    actions = add_subparsers(parser, "agent_action")
    for add in ACTIONS:
        add(actions)
    return parser
