"""``shieldwall hub init|serve``: the alliance's secretariat."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from shieldwall.cli.common import CLIError, add_subparsers, console, listen_address, print_json


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
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--tls-cert", type=Path, help="serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    serve.set_defaults(func=cmd_serve)


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
    import uvicorn
    from rich.markup import escape

    from shieldwall.hub.app import create_app, open_secretariat
    from shieldwall.interop.mount import interop_routes

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    tls = _tls_files(args.tls_cert, args.tls_key)
    try:
        sec = open_secretariat(args.data)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    app = create_app(sec, extra_routes=interop_routes(sec, args.data))
    host, port = args.listen
    scheme = "https" if tls else "http"
    console(stderr=True).print(
        f"shieldwall hub serving treaty [bold]{sec.treaty.name}[/] on {scheme}://{host}:{port}"
        f" (records in {escape(str(sec.store.path))})"
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
        ssl_certfile=str(tls[0]) if tls else None,
        ssl_keyfile=str(tls[1]) if tls else None,
    )
    try:
        uvicorn.Server(config).run()
    except OSError as exc:
        raise CLIError(
            f"cannot listen on {host}:{port} ({exc.strerror}): choose another --listen"
        ) from None
    return 0


def _tls_files(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CLIError("HTTPS needs both --tls-cert and --tls-key (PEM files)")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise CLIError(f"{flag} {str(path)!r} does not exist: give a PEM file")
    return cert, key
