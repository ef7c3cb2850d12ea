"""``shieldwall agent run --config FILE``: the member daemon."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shieldwall import logs
from shieldwall.agent.paths import DEFAULT_CONFIG
from shieldwall.cli.common import CLIError, check_key_mode, console

# The agent's exit status when the hub refuses this member for good (EX_CONFIG):
# a service manager can be told not to restart it (RestartPreventExitStatus=78).
EXIT_REFUSED = 78
_FIXES = {
    "bad_signature": " (check that 'key' in [agent] is the key this member joined with)",
    "unknown_member": " (check 'name' in [agent], or join with 'shieldwall join')",
}


def add_parser(actions: Any) -> None:
    run = actions.add_parser("run", help="watch logs, report attacks, enforce decisions")
    run.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"the agent's TOML configuration (default {DEFAULT_CONFIG})",
    )
    run.add_argument("--json", action="store_true", help="print progress as JSON lines")
    logs.add_arguments(run, "warning")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    # here, not at the top: a one-shot command (``agent replay``) starts without them
    import asyncio
    import signal

    from shieldwall.agent.config import load_agent_config
    from shieldwall.agent.daemon import Agent
    from shieldwall.agent.enforce.factory import make_enforcer
    from shieldwall.agent.gc_pace import pace_for_logs
    from shieldwall.agent.outbox import Outbox
    from shieldwall.client import HubClient
    from shieldwall.signing import SigningKey

    logs.configure(args.log_level, args.log_format)
    pace_for_logs()
    stamp = not logs.under_journal()  # the journal stamps each line itself
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
        kind = str(event.pop("event"))
        event.pop("member", None)
        t = event.pop("t", None)
        line = logs.progress_line(kind, event, t if isinstance(t, (int, float)) else None, stamp)
        out.print(line, markup=False, highlight=False)

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
    if agent.fatal is not None:
        fix = _FIXES.get(agent.fatal.code, "")
        raise CLIError(
            f"the hub refused member {config.name!r} for good ({agent.fatal.code}): "
            f"{agent.fatal}{fix}",
            code=EXIT_REFUSED,
        )
    return 0
