"""``shieldwall demo``: a hub and member agents on this machine, and an attacker.

By default the members enforce with blocklist files (no root, no network beyond
loopback). ``--nftables`` (root) puts each member in a network namespace with an sshd
stand-in, enforces with real nftables there and has the attacker connect over TCP.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from shieldwall.cli.common import CLIError, console

if TYPE_CHECKING:
    from shieldwall.demo.alliance import Alliance
    from shieldwall.demo.network import DemoNetwork


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="run a live alliance on this machine (no root, no network)")
    demo.add_argument("--members", type=int, default=5, help="member agents to start (default 5)")
    demo.add_argument("--template", default="nato", help="treaty template (default nato)")
    demo.add_argument("--no-live", action="store_true", help="plain output instead of a live table")
    demo.add_argument("--keep", type=Path, help="keep the alliance's files in this new directory")
    demo.add_argument(
        "--nftables",
        action="store_true",
        help="root: members in network namespaces, real nftables, the attacker over TCP",
    )
    demo.set_defaults(func=cmd_demo)


def check_nftables(euid: int, which: Callable[[str], str | None] = shutil.which) -> None:
    """CLIError unless ``--nftables`` can run: root, with ``ip`` and ``nft`` installed."""
    if euid != 0:
        raise CLIError(
            "--nftables needs root (it creates network namespaces and nftables rules):"
            " run it as root, or run plain `shieldwall demo`, which needs neither"
        )
    for tool in ("ip", "nft"):
        if which(tool) is None:
            raise CLIError(
                f"--nftables needs the {tool!r} command, which is not installed:"
                " install iproute2 and nftables, or run plain `shieldwall demo`"
            )


@contextlib.contextmanager
def _interrupt_on_terminate() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so the namespaces are always removed."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def cmd_demo(args: argparse.Namespace) -> int:
    from shieldwall.core.treaty import TEMPLATES
    from shieldwall.demo.alliance import Alliance
    from shieldwall.demo.network import DemoNetwork, member_address

    if args.template not in TEMPLATES:
        raise CLIError(f"unknown template {args.template!r}: choose one of {', '.join(TEMPLATES)}")
    if args.keep is not None and args.keep.exists():
        raise CLIError(f"--keep {str(args.keep)!r} exists: name a new directory")
    if args.nftables:
        check_nftables(os.geteuid())
    root = args.keep or Path(tempfile.mkdtemp(prefix="shieldwall-demo-"))
    network: DemoNetwork | None = None
    try:
        try:
            if args.nftables:
                network = DemoNetwork(args.members)
                alliance = Alliance(
                    root,
                    args.members,
                    args.template,
                    enforcer=network.enforcer,
                    address_of=member_address,
                )
            else:
                alliance = Alliance(root, args.members, args.template)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        root.mkdir(parents=True, exist_ok=True)
        if network is None:
            return _run(args, root, alliance, None)
        with _interrupt_on_terminate():
            return _run(args, root, alliance, network)
    finally:
        if args.keep is None and not os.environ.get("SHIELDWALL_DEMO_KEEP"):
            shutil.rmtree(root, ignore_errors=True)


def _run(
    args: argparse.Namespace, root: Path, alliance: Alliance, network: DemoNetwork | None
) -> int:
    from rich.live import Live

    from shieldwall.demo.sweep import ATTACKER, Tally, file_attempt, sweep, wait_all_enforced
    from shieldwall.demo.view import live_table, second_hit, summary

    out = console()
    recent: list[str] = []
    origin = time.time()

    def note(event: dict[str, Any]) -> None:
        kind = event.get("event")
        shown = {
            "detected",
            "defended",
            "reported",
            "enforced",
            "declined",
            "alerted",
            "hub_started",
        }
        if kind not in shown:
            return
        who = event.get("member", "hub")
        what = event.get("target") or ", ".join(event.get("targets", [])) or event.get("url", "")
        extra = ""
        if kind == "reported" and event.get("decisions"):
            extra = f" → alliance decision {event['decisions']}"
        text = f"{event.get('t', origin) - origin:7.3f}s  {who:<9} {kind:<9} {what}{extra}"
        recent.append(text)
        if args.no_live:
            out.print(text, markup=False, highlight=False)

    alliance.listen(note)
    ip, how, rate = ATTACKER, file_attempt, 25.0
    if network is not None:
        ip, how, rate = network.attacker, network.attempt, 50.0
    tally = Tally()
    try:
        _start(args, root, alliance, network, out)
        enforcing = "nftables in each member's namespace" if network else "their logs"
        verb = "enforcing with" if network else "following"
        out.print(
            f"hub {alliance.url} · treaty {args.template} · {args.members} agents {verb} {enforcing}"
        )
        out.print(f"dashboard {alliance.dashboard}", markup=False, highlight=False)
        done = threading.Event()
        failures: list[Exception] = []

        def attacker() -> None:
            try:
                sweep(alliance, ip, rate=rate, how=how, tally=tally)
            except Exception as exc:
                failures.append(exc)
            finally:
                done.set()

        thread = threading.Thread(target=attacker, daemon=True)
        thread.start()
        if args.no_live:
            done.wait()
        else:
            with Live(
                live_table(alliance, ip, tally, recent), console=out, refresh_per_second=10
            ) as live:
                while not done.wait(0.1):
                    live.update(live_table(alliance, ip, tally, recent))
                if not failures:
                    wait_all_enforced(alliance, ip)
                live.update(live_table(alliance, ip, tally, recent))
        if failures:
            raise CLIError(f"the attacker stopped: {failures[0]}")
        line = wait_all_enforced(alliance, ip)
        out.print()
        out.print(summary(alliance, line, tally))
        second = alliance.members[1]  # the summary line of early warning, as measured
        out.print(
            f"second member hit ({second.name}) stopped the attacker {second_hit(second, ip)}"
        )
        if line.all_enforced is None:
            raise CLIError(
                "not every member enforced the decision: see the agents' logs in " + str(root)
            )
    finally:
        try:
            alliance.stop()
        finally:
            if network is not None:
                _remove(network, out)
    return 0


def _start(
    args: argparse.Namespace, root: Path, alliance: Alliance, network: DemoNetwork | None, out: Any
) -> None:
    from shieldwall.demo.network import NetworkError

    try:
        if network is not None:
            out.print(
                f"creating network namespaces {network.attacker_ns} (attacker {network.attacker})"
                f" and {network.member_ns(1)} … {network.member_ns(args.members)} (10.231.0.0/16) …"
            )
            network.create()
        out.print(f"starting a hub and {args.members} member agents in {root} …")
        alliance.start()
        if network is not None:
            network.start_listeners(alliance.members)
            network.start_attacker(root / "attacker.err")
    except NetworkError as exc:
        raise CLIError(f"could not set up the demo's network: {exc}") from None


def _remove(network: DemoNetwork, out: Any) -> None:
    """Delete the namespaces; a second Ctrl-C meanwhile would leave them behind."""
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        network.close()
        left = network.leftovers()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if left:
        out.print(f"could not delete network namespaces {', '.join(left)}: use `ip netns del NAME`")
    else:
        out.print(f"network namespaces {network.prefix}-* removed")
