"""``shieldwall agent run --config FILE``: the member daemon."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from rich.markup import escape

from shieldwall.cli.common import CLIError, check_key_mode, console


def add_parser(actions: Any) -> None:
    run = actions.add_parser("run", help="watch logs, report attacks, enforce decisions")
    run.add_argument("--config", required=True, type=Path, help="the agent's TOML configuration")
    run.add_argument("--json", action="store_true", help="print progress as JSON lines")
    run.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from shieldwall.agent.config import load_agent_config
    from shieldwall.agent.daemon import Agent
    from shieldwall.agent.enforce.factory import make_enforcer
    from shieldwall.agent.outbox import Outbox
    from shieldwall.client import HubClient
    from shieldwall.signing import SigningKey

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        config = load_agent_config(args.config)
        check_key_mode(config.key)
        key = SigningKey.load(config.key)
        enforcer = make_enforcer(config.enforcer, allow=config.policy.protected)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    config.data.mkdir(parents=True, exist_ok=True, mode=0o700)
    outbox = Outbox(config.data / "outbox.sqlite3")
    client = HubClient(config.hub, name=config.name, key=key, ca=config.ca)
    out = console()

    def show(event: dict[str, Any]) -> None:
        if args.json:
            sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
            sys.stdout.flush()
            return
        kind = event.pop("event")
        event.pop("member", None)
        event.pop("t", None)
        details = escape(" ".join(f"{k}={v}" for k, v in event.items()))
        out.print(f"[bold]{escape(kind)}[/] {details}", markup=True, highlight=False)

    agent = Agent(config, client=client, enforcer=enforcer, outbox=outbox, on_event=show)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await agent.run(stop)

    try:
        asyncio.run(main())
    finally:
        enforcer.close()
        client.close()
        outbox.close()
    return 0
