"""``shieldwall agent init``: make this server a member in one command.

It asks the hub's URL and the member's name (or takes ``--hub``, ``--name`` and, with
``--yes``, every proposal without asking), finds the logs this server has
(:mod:`shieldwall.agent.discover`, below ``--root``), proposes the host's own addresses,
writes the key (mode 0600; an existing one is kept), joins the hub, and only then
writes the configuration, checked by the agent's own parser. A failed join writes no
configuration, so running the command again is safe.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shieldwall.agent.paths import DEFAULT_CONFIG, DEFAULT_DATA, DEFAULT_KEY_NAME
from shieldwall.cli.common import CLIError, check_key_mode, console, print_json

ENFORCERS = ("nftables", "ipset", "dryrun")
Ask = Callable[[str], str | None]  # a question -> the answer line, None at end of input


def add_parser(actions: Any) -> None:
    init = actions.add_parser(
        "init",
        help="make this server a member: find its logs, write the key and configuration, join",
    )
    init.add_argument(
        "--hub",
        metavar="URL",
        default=os.environ.get("SHIELDWALL_HUB", ""),
        help="the hub's URL, e.g. http://10.0.0.1:8470 (default: $SHIELDWALL_HUB, else asked)",
    )
    init.add_argument(
        "--name", help="this member's name (default: asked; with --yes, the host's name)"
    )
    init.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="PATH",
        help=f"the configuration file to write (default {DEFAULT_CONFIG})",
    )
    init.add_argument(
        "--key",
        type=Path,
        metavar="PATH",
        help=f"the member's private key, made if missing (default {DEFAULT_KEY_NAME} "
        "beside the configuration)",
    )
    init.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        metavar="DIR",
        help=f"the agent's data directory (default {DEFAULT_DATA})",
    )
    init.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="look for logs, fail2ban and tools under DIR instead of / (an image, a test "
        "tree); the configuration names them as the server sees them",
    )
    init.add_argument(
        "--address",
        action="append",
        metavar="CIDR",
        help="an address this server owns, never blocked (repeat; default: the host's own "
        "global addresses)",
    )
    init.add_argument(
        "--enforcer",
        choices=ENFORCERS,
        help="firewall backend (default: nftables if nft is installed, else ipset, else dryrun)",
    )
    init.add_argument(
        "--ca", type=Path, metavar="PEM", help="CA certificate to trust for an https:// hub"
    )
    init.add_argument(
        "--no-join",
        action="store_true",
        help="write the key and configuration without asking the hub (an image); "
        "join later with 'shieldwall join'",
    )
    init.add_argument("--yes", "-y", action="store_true", help="ask nothing: take the proposals")
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(func=cmd_init)


def ask_stdin(question: str) -> str | None:
    """Ask on stderr (stdout stays for the result), read one line from stdin."""
    sys.stderr.write(question)
    sys.stderr.flush()
    line = sys.stdin.readline()
    if not line or not sys.stdin.isatty():
        sys.stderr.write("\n")  # what a terminal would have echoed
    return line.strip() if line else None


def _answer(ask: Ask, question: str, default: str, flag: str) -> str:
    shown = f"{question} [{default}]: " if default else f"{question}: "
    answer = ask(shown)
    if answer is None:
        raise CLIError(f"no answer ({question}): pass {flag}, or --yes to take the proposals")
    return answer or default


def check_hub(url: str) -> str:
    """The hub's URL, or its nodes' URLs separated by commas, each checked."""
    if "," in url:
        return ",".join(check_hub(one) for one in url.split(",") if one.strip())
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        host = None
    if not url.startswith(("http://", "https://")) or not host:
        raise CLIError(
            f"hub URL {url!r} is not an http:// or https:// URL with a host: "
            "give one such as http://10.0.0.1:8470"
        )
    return url


def check_name(name: str) -> str:
    from shieldwall.hub.validate import NAME  # as the hub checks it

    if not NAME.match(name):
        raise CLIError(
            f"member name {name!r} is not valid: use 1-63 lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def proposed_name() -> str:
    """The host's name, made a valid member name."""
    import socket  # on use: a one-shot command (``agent replay``) starts without it

    host = socket.gethostname().split(".")[0].lower()
    name = re.sub(r"[^a-z0-9._-]", "-", host).lstrip("._-")[:63]
    return name or "member"


def check_addresses(items: list[str]) -> tuple[str, ...]:
    from shieldwall.core.addresses import normalise, parse_network

    out: list[str] = []
    for item in items:
        try:
            out.append(normalise(parse_network(item))[0])
        except ValueError as exc:
            raise CLIError(f"address {item!r}: {exc}") from None
    if not out:
        raise CLIError(
            "no address for this member: give the server's own addresses with --address "
            "(the hub needs at least one)"
        )
    return tuple(dict.fromkeys(out))


def cmd_init(args: argparse.Namespace, ask: Ask = ask_stdin) -> int:
    from shieldwall.agent.discover import discover, host_addresses
    from shieldwall.agent.proposal import Proposal, choose_enforcer, describe, render

    config: Path = args.config.absolute()
    if config.exists():
        raise CLIError(
            f"configuration {str(config)!r} exists: edit it, or remove it to start again "
            "(or choose another --config)"
        )
    root: Path = args.root
    if not root.is_dir():
        raise CLIError(f"--root {str(root)!r} is not a directory: give the server's root, e.g. /")
    if args.ca is not None and not args.ca.is_file():
        raise CLIError(f"--ca {str(args.ca)!r} does not exist: give the hub's CA certificate")

    hub = args.hub
    if not hub:
        if args.yes:
            raise CLIError("--yes needs the hub: pass --hub URL (or set SHIELDWALL_HUB)")
        hub = _answer(ask, "hub URL, e.g. http://10.0.0.1:8470", "", "--hub URL")
    hub = check_hub(hub)
    name = args.name
    if name is None:
        name = (
            proposed_name() if args.yes else _answer(ask, "member name", proposed_name(), "--name")
        )
    name = check_name(name)

    found = discover(root)
    raw = list(args.address or [])
    if not raw:
        proposed = host_addresses()
        raw = proposed
        if not args.yes:
            answer = _answer(
                ask, "this server's own addresses, never blocked", " ".join(proposed), "--address"
            )
            raw = answer.replace(",", " ").split()
    addresses = check_addresses(raw)

    key = (args.key if args.key is not None else config.parent / DEFAULT_KEY_NAME).absolute()
    proposal = Proposal(
        name=name,
        hub=hub,
        key=key,
        data=args.data.absolute(),
        addresses=addresses,
        found=found,
        enforcer=args.enforcer or choose_enforcer(root),
        ca=args.ca.absolute() if args.ca is not None else None,
    )
    text = render(proposal)
    _validate(text, config)

    out = console(stderr=args.json)
    watched = describe(proposal)
    if not args.yes:
        for line in watched or ["no log found: add [[sources]] to the configuration"]:
            out.print(f"  {line}", markup=False)
        verb = "write it" if args.no_join else f"join {hub} and write it"
        answer = _answer(ask, f"configuration {config}: {verb}? (yes/no)", "yes", "--yes")
        if answer.lower() not in ("y", "yes"):
            raise CLIError("nothing written: run 'shieldwall agent init' again", code=1)

    signing_key, made = _key(key)
    status = None
    if not args.no_join:
        status = _join(hub, name, signing_key, addresses, proposal.ca, key)
    _write(config, text)
    result = {
        "config": str(config),
        "key": str(key),
        "key_created": made,
        "public_key": signing_key.public_key,
        "name": name,
        "hub": hub,
        "addresses": list(addresses),
        "watching": watched,
        "enforcer": proposal.enforcer,
        "joined": status is not None,
        "status": status,
    }
    if args.json:
        print_json(result)
        return 0
    out.print(f"wrote {config} and {'made' if made else 'kept'} the key {key}", markup=False)
    for line in watched:
        out.print(f"  {line}", markup=False)
    if not watched:
        out.print("  no log found: add [[sources]] to the configuration", markup=False)
    if status is None:
        out.print(
            f"not joined yet: shieldwall join --hub {hub} --name {name} --key {key} "
            + " ".join(f"--address {a}" for a in addresses),
            markup=False,
        )
    else:
        out.print(f"applied to {hub} as {name}: status {status}", markup=False)
        if status == "pending":
            out.print(
                f"the secretariat approves it: shieldwall members approve {name}", markup=False
            )
    if config == DEFAULT_CONFIG:  # where the service unit's 'agent run' reads it
        start = "systemctl enable --now shieldwall-agent (or: shieldwall agent run)"
    else:
        start = f"shieldwall agent run --config {config}"
    out.print(f"start it: {start}", markup=False)
    return 0


def _validate(text: str, config: Path) -> None:
    """The agent's own parser on the text; [fail2ban] was read at discovery already (below
    --root, where the paths it names may not be)."""
    import tomllib  # on use: a one-shot command (``agent replay``) starts without it

    from shieldwall.agent.config import parse_config

    data = tomllib.loads(text)
    data.pop("fail2ban", None)
    try:
        parse_config(data, str(config), config.parent)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _key(path: Path) -> tuple[Any, bool]:
    """The signing key at ``path``: the existing one (checked), else a new one (0600)."""
    from shieldwall.signing import SigningKey

    if path.exists():
        check_key_mode(path)
        try:
            return SigningKey.load(path), False
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    key = SigningKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        key.save(path)
    except OSError as exc:
        raise CLIError(f"cannot write key file {str(path)!r}: {exc.strerror}") from None
    return key, True


def _join(
    hub: str,
    name: str,
    key: Any,
    addresses: tuple[str, ...],
    ca: Path | None,
    key_path: Path,
) -> str:
    from shieldwall.client import HubClient, HubError

    try:
        with HubClient(hub, name=name, key=key, ca=ca) as client:
            result = client.join(list(addresses))
    except HubError as exc:
        raise CLIError(
            f"joining {hub} failed: {exc}; no configuration written (the key {key_path} "
            "stays for the next try): run 'shieldwall agent init' again"
        ) from None
    return str(result.get("status")) if isinstance(result, dict) else "unknown"


def _write(config: Path, text: str) -> None:
    try:
        config.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
    except OSError as exc:
        raise CLIError(f"cannot write {str(config)!r}: {exc.strerror}") from None
