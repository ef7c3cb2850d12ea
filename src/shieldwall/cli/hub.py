"""``shieldwall hub init|serve|replica``: the alliance's secretariat (``checkpoint``:
:mod:`shieldwall.cli.hub_records`)."""

from __future__ import annotations

import argparse
import gc
from pathlib import Path
from typing import Any

from shieldwall.bus.base import DEFAULT_STREAM, check_stream
from shieldwall.cli import hub_records
from shieldwall.cli.common import CLIError, add_subparsers, console, listen_address, print_json
from shieldwall.store.urls import redact


def register(sub: Any) -> None:
    parser = sub.add_parser("hub", help="run the alliance hub")
    actions = add_subparsers(parser, "hub_action")

    init = actions.add_parser("init", help="create a hub data directory with a treaty")
    init.add_argument("--data", required=True, type=Path, help="data directory to create")
    group = init.add_mutually_exclusive_group()
    group.add_argument("--template", default="nato", help="built-in treaty template (default nato)")
    group.add_argument("--treaty", type=Path, help="a treaty TOML file instead of a template")
    init.add_argument(
        "--store",
        metavar="STORE",
        help="where the records live: sqlite (default, DIR/hub.sqlite3) or a PostgreSQL URL "
        "postgresql://USER@HOST[:PORT]/DATABASE (recorded in DIR/hub.toml; "
        "default: $SHIELDWALL_STORE, else sqlite)",
    )
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(func=cmd_init)

    serve = actions.add_parser("serve", help="serve the hub's API and decision stream")
    serve.add_argument("--data", required=True, type=Path, help="data directory made by 'hub init'")
    serve.add_argument(
        "--listen", default=("127.0.0.1", 8470), type=listen_address, help="HOST:PORT"
    )
    _serving_args(serve)
    serve.add_argument(
        "--bus",
        metavar="URL",
        help="publish the hub's inputs to NATS JetStream at URL (nats://HOST:4222) for "
        "replicas (default: $SHIELDWALL_BUS, else the setting 'bus'; none)",
    )
    serve.add_argument("--bus-stream", metavar="NAME", help="JetStream stream (default shieldwall)")
    serve.add_argument(
        "--advertise",
        metavar="URL",
        help="on a PostgreSQL store shared by several nodes: the URL the other nodes "
        "forward changes to while this one leads (default: the --listen address)",
    )
    serve.add_argument(
        "--ca", type=Path, help="CA certificate (PEM) to trust for the other nodes' https URLs"
    )
    serve.set_defaults(func=cmd_serve)

    replica = actions.add_parser(
        "replica", help="serve a read replica of a primary hub, kept current over the bus"
    )
    replica.add_argument(
        "--data", required=True, type=Path, help="the replica's own data directory (made if new)"
    )
    replica.add_argument(
        "--listen", default=("127.0.0.1", 8471), type=listen_address, help="HOST:PORT"
    )
    _serving_args(replica)
    replica.add_argument(
        "--bus",
        metavar="URL",
        help="the primary's NATS JetStream, nats://HOST:4222 (default: $SHIELDWALL_BUS)",
    )
    replica.add_argument(
        "--bus-stream",
        metavar="NAME",
        default=DEFAULT_STREAM,
        help="JetStream stream (default shieldwall)",
    )
    replica.add_argument(
        "--primary",
        required=True,
        metavar="URL",
        help="the primary hub's URL; changes sent to the replica are forwarded there",
    )
    replica.add_argument(
        "--ca", type=Path, help="CA certificate (PEM) to trust for an https primary"
    )
    replica.set_defaults(func=cmd_replica)

    hub_records.register(actions)


def _serving_args(parser: argparse.ArgumentParser) -> None:
    from shieldwall import logs

    logs.add_arguments(parser, "info")
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")


def cmd_init(args: argparse.Namespace) -> int:
    from shieldwall.core.treaty import TEMPLATES, template_text
    from shieldwall.hub.setup import TOKEN_FILE, init_hub
    from shieldwall.hub.storage import store_spec
    from shieldwall.store.urls import SQLITE, redact

    if args.treaty is not None:
        try:
            text, source = args.treaty.read_text(), str(args.treaty)
        except OSError as exc:
            raise CLIError(
                f"treaty file {str(args.treaty)!r} cannot be read: {exc.strerror}"
            ) from None
    else:
        if args.template not in TEMPLATES:
            raise CLIError(
                f"unknown template {args.template!r}: choose one of {', '.join(TEMPLATES)}"
            )
        text, source = template_text(args.template), f"template {args.template}"
    try:
        token = init_hub(args.data, text, source, store=args.store)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    store = redact(args.store or store_spec(SQLITE))
    if args.json:
        print_json(
            {
                "data": str(args.data),
                "admin_token": token,
                "token_file": str(args.data / TOKEN_FILE),
                "store": store,
            }
        )
        return 0
    out = console()
    out.print(f"[bold green]hub initialised[/] in {args.data} ({source}; store {store})")
    out.print(f"admin token: [bold]{token}[/]  (also in {args.data / TOKEN_FILE}, mode 0600)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from shieldwall.bus.base import check_bus_url
    from shieldwall.hub.app import create_app, open_secretariat
    from shieldwall.hub.roles import bus_url, nats_connect, primary_pump
    from shieldwall.hub.upkeep import Upkeep
    from shieldwall.interop.mount import interop_routes

    _logging(args)
    tls = _tls_files(args.tls_cert, args.tls_key)
    try:
        stream = check_stream(args.bus_stream, "--bus-stream") if args.bus_stream else None
        flag_url = check_bus_url(args.bus, "--bus") if args.bus else None  # flags first
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    lock = _lock(args.data)  # before the store is opened: one hub per data directory
    node = _node(args, tls)
    try:
        sec = open_secretariat(args.data) if node is None else node.sec
        url = flag_url or bus_url(None, sec.settings)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    tasks = []
    if url:
        pump = primary_pump(sec, nats_connect(url, stream or sec.settings.bus_stream))
        tasks.append(pump.run)
    tasks.append(Upkeep(sec, args.data).run)  # checkpoints and retention (if it records)
    middleware = []
    if node is not None:
        tasks.append(node.run)
        middleware.append(_forward(sec, node.forward_to, args.ca))
    app = create_app(
        sec,
        extra_routes=interop_routes(sec, args.data),
        tasks=tasks,
        middleware=middleware,
        viewers=_viewers(args.data),
    )
    role = f", publishing to bus {redact(url)}" if url else ""
    what = f"hub serving treaty [bold]{sec.treaty.name}[/]"
    if node is not None:
        app.state.leadership = node
        leader = node.leader or "unknown"
        what += (
            f" as the leader (epoch {node.epoch})"
            if node.role == "leader"
            else f", starting as a standby (leader: {leader})"
        )
    _run(app, args, tls, what, sec, role)
    lock.release()
    return 0


def _node(args: argparse.Namespace, tls: tuple[Path, Path] | None) -> Any:
    """On a PostgreSQL store: this process as one node of the hub (leader or standby)."""
    import socket

    from shieldwall.hub.settings import load_settings
    from shieldwall.hub.storage import SETTINGS_FILE, store_spec
    from shieldwall.store.urls import is_postgres

    try:
        settings = load_settings(args.data / SETTINGS_FILE)
        spec = store_spec(settings.store)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if not is_postgres(spec):
        return None  # SQLite: one hub, nothing to elect (and no PostgreSQL driver needed)
    from shieldwall.hub.leadership import open_node

    if args.ca is not None and not args.ca.is_file():
        raise CLIError(f"--ca {str(args.ca)!r} does not exist: give the nodes' CA certificate")
    advertise = str(args.advertise or "").rstrip("/")
    if not advertise:
        host, port = args.listen
        if host in ("", "0.0.0.0", "::"):
            host = socket.getfqdn()
        shown = f"[{host}]" if ":" in host else host
        advertise = f"{'https' if tls else 'http'}://{shown}:{port}"
    elif not advertise.startswith(("http://", "https://")):
        raise CLIError(
            f"--advertise {advertise!r} is not a URL: give http://HOST:PORT or https://…"
        )
    try:
        from shieldwall.hub.archive import DIRECTORY

        return open_node(settings, spec, advertise, archives=Path(args.data) / DIRECTORY)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _forward(sec: Any, primary: Any, ca: Path | None) -> Any:
    import httpx
    from starlette.middleware import Middleware

    from shieldwall.hub.forward import ForwardWrites

    client = httpx.AsyncClient(verify=str(ca) if ca else True, timeout=30.0)
    return Middleware(
        ForwardWrites, primary=primary, client=client, max_body=sec.settings.max_body_bytes
    )


def cmd_replica(args: argparse.Namespace) -> int:
    import asyncio

    import httpx
    from starlette.middleware import Middleware

    from shieldwall.bus.base import BusError
    from shieldwall.hub.app import create_app, open_secretariat
    from shieldwall.hub.forward import ForwardWrites
    from shieldwall.hub.roles import (
        bus_url,
        fetch_charter,
        nats_connect,
        prepare_replica,
        replica_follower,
    )
    from shieldwall.hub.settings import HubSettings
    from shieldwall.hub.storage import DB_NAME
    from shieldwall.interop.mount import interop_routes

    _logging(args)
    tls = _tls_files(args.tls_cert, args.tls_key)
    primary = str(args.primary).rstrip("/")
    if not primary.startswith(("http://", "https://")):
        raise CLIError(
            f"--primary {primary!r} is not a hub URL: give http://HOST:PORT or https://…"
        )
    if args.ca is not None and not args.ca.is_file():
        raise CLIError(
            f"--ca {str(args.ca)!r} does not exist: give the primary's CA certificate (PEM)"
        )
    try:
        url = bus_url(args.bus, HubSettings())
        stream = check_stream(args.bus_stream, "--bus-stream")
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if not url:
        raise CLIError(
            "a replica needs the primary's bus: pass --bus nats://HOST:4222 or set SHIELDWALL_BUS"
        )
    connect = nats_connect(url, stream, primary=False)
    try:
        charter = asyncio.run(fetch_charter(connect))
    except BusError as exc:
        if not (args.data / DB_NAME).exists():
            raise CLIError(f"{exc}; a new replica copies the alliance from the bus") from None
        charter = None  # serve the copy we have; the follower keeps trying
        console(stderr=True).print(f"[yellow]warning:[/] {exc}; serving the last copy")
    try:
        prepare_replica(args.data, charter, stream)
        lock = _lock(args.data)
        sec = open_secretariat(args.data)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    follower = replica_follower(sec, connect)
    client = httpx.AsyncClient(verify=str(args.ca) if args.ca else True, timeout=30.0)
    forward = Middleware(
        ForwardWrites, primary=primary, client=client, max_body=sec.settings.max_body_bytes
    )
    app = create_app(
        sec,
        extra_routes=interop_routes(sec, args.data),
        ticker=False,
        tasks=[follower.run],
        middleware=[forward],
        viewers=_viewers(args.data),
    )
    what = f"replica of [bold]{sec.treaty.name}[/] (bus {redact(url)} stream {stream})"
    _run(app, args, tls, what, sec, f", changes forwarded to {primary}")
    lock.release()
    return 0


def _viewers(data: Path) -> Any:
    """The read tokens of the hub in ``data`` (``shieldwall viewers add``)."""
    from shieldwall.hub.viewers import SQLiteViewers, viewers_path

    try:
        return SQLiteViewers(viewers_path(data))
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _logging(args: argparse.Namespace) -> None:
    from shieldwall import logs

    logs.configure(args.log_level, args.log_format)


def _lock(data: Path) -> Any:
    """Hold DATA's lock for the life of this process (CLIError if another hub has it)."""
    from shieldwall.hub.lock import lock_data_dir

    try:
        return lock_data_dir(data)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _run(
    app: Any,
    args: argparse.Namespace,
    tls: tuple[Path, Path] | None,
    what: str,
    sec: Any,
    tail: str,
) -> None:
    import uvicorn
    from rich.markup import escape

    from shieldwall.hub.server import fit_file_limit, server_options

    host, port = args.listen
    scheme = "https" if tls else "http"
    limit = fit_file_limit(sec.settings.max_connections)
    if limit.warning:
        console(stderr=True).print(f"[yellow]warning:[/] {escape(limit.warning)}")
    console(stderr=True).print(
        f"shieldwall {what} on {scheme}://{host}:{port}"
        f" (records in {escape(str(sec.store.path))}{escape(tail)})"
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's lines go through our format (logs.configure)
        access_log=False,
        timeout_graceful_shutdown=2,
        **server_options(sec.settings, limit.connections),
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    # The council rebuilt at start lives as long as the process: keep the collector's
    # full passes off it, so they stay short however large the state (a checkpoint
    # being built beside the event loop allocates a lot; see hub/upkeep.py).
    gc.freeze()
    try:
        uvicorn.Server(config).run()
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {host}:{port} ({exc.strerror}): choose another --listen"
        ) from None


def _tls_files(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CLIError("HTTPS needs both --tls-cert and --tls-key (PEM files)")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise CLIError(f"{flag} {str(path)!r} does not exist: give a PEM file")
    return cert, key
