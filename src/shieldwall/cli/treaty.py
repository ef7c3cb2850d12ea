"""``shieldwall treaty show|check|init``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json
from shieldwall.cli.hubargs import add_admin_args, add_hub_args, client_from


def register(sub: Any) -> None:
    treaty = sub.add_parser("treaty", help="treaty files and templates")
    actions = add_subparsers(treaty, "treaty_action")
    show = actions.add_parser(
        "show", help="show a treaty file or template, or the hub's treaty and its history"
    )
    show.add_argument(
        "file", nargs="?", help="a treaty TOML file or a template name (default: the hub's)"
    )
    add_hub_args(show)
    show.add_argument("--json", action="store_true", help="print the result as JSON")
    show.set_defaults(func=cmd_show)
    check = actions.add_parser("check", help="validate a treaty file")
    check.add_argument("file", type=Path, help="the treaty TOML file")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=cmd_check)
    init = actions.add_parser("init", help="print a template to start a treaty from")
    init.add_argument("--template", default="nato", help="built-in treaty template (default nato)")
    init.add_argument("--output", type=Path, help="write to this file instead of stdout")
    init.set_defaults(func=cmd_init)
    amend = actions.add_parser(
        "amend", help="put an amended treaty in force at the hub (secretariat)"
    )
    amend.add_argument("file", type=Path, help="the amended treaty's TOML file (a higher version)")
    add_admin_args(amend)
    amend.add_argument("--json", action="store_true", help="print the result as JSON")
    amend.set_defaults(func=cmd_amend)


def _load(source: str) -> Any:
    from shieldwall.core.treaty import TEMPLATES, load_treaty, template_text

    path = Path(source)
    if path.is_file():
        try:
            text = path.read_text()
        except OSError as exc:
            raise CLIError(f"treaty file {source!r} cannot be read: {exc.strerror}") from None
    elif source in TEMPLATES:
        text = template_text(source)
    else:
        raise CLIError(
            f"treaty {source!r} is neither a file nor a template: give a path or one of {', '.join(TEMPLATES)}"
        )
    try:
        return load_treaty(text, source)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _history_lines(history: list[dict[str, Any]]) -> list[str]:
    from shieldwall.logs import iso

    return [
        f"{h['label']}  sha256:{h['digest']}  "
        + ("founding" if h.get("since") is None else f"since {iso(h['since'])}")
        for h in history
    ]


def _show_hub(args: argparse.Namespace) -> int:
    with client_from(args) as client:
        result = client.treaty()
    if args.json:
        print_json(result)
        return 0
    out = console()
    out.print(f"[bold]{result['name']}[/] v{result['version']}  sha256:{result['digest']}")
    out.print("history:", markup=False)
    for line in _history_lines(result.get("history", [])):
        out.print(f"  {line}", markup=False)
    out.print(result["text"], markup=False)
    return 0


def cmd_amend(args: argparse.Namespace) -> int:
    from shieldwall.core.treaty import load_treaty

    try:
        text = args.file.read_text()
    except OSError as exc:
        raise CLIError(f"treaty file {str(args.file)!r} cannot be read: {exc.strerror}") from None
    try:
        load_treaty(text, str(args.file))  # refused here, with the key, before any request
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    with client_from(args) as client:
        result = client.amend(text)
    if args.json:
        print_json(result)
        return 0
    console().print(
        f"treaty amended: {result['previous']} -> {result['label']} (sha256:{result['digest']}); "
        "later decisions cite it",
        markup=False,
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.file is None:
        if not args.hub:
            raise CLIError(
                "give a treaty file or template name, or --hub URL (or SHIELDWALL_HUB) "
                "for the treaty in force at a hub and its history"
            )
        return _show_hub(args)
    treaty = _load(args.file)
    if args.json:
        print_json(
            {
                "name": treaty.name,
                "version": treaty.version,
                "digest": treaty.digest,
                "text": treaty.text,
            }
        )
    else:
        out = console()
        out.print(f"[bold]{treaty.name}[/] v{treaty.version}  sha256:{treaty.digest}")
        out.print(treaty.text, markup=False)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise CLIError(f"treaty file {str(args.file)!r} does not exist: check the path")
    treaty = _load(str(args.file))
    if args.json:
        print_json(
            {"valid": True, "name": treaty.name, "version": treaty.version, "digest": treaty.digest}
        )
    else:
        console().print(f"[green]valid[/]: {treaty.name} v{treaty.version} sha256:{treaty.digest}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from shieldwall.core.treaty import TEMPLATES, template_text

    if args.template not in TEMPLATES:
        raise CLIError(f"unknown template {args.template!r}: choose one of {', '.join(TEMPLATES)}")
    text = template_text(args.template)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.output.exists():
        raise CLIError(f"{str(args.output)!r} exists: choose another --output")
    args.output.write_text(text)
    console().print(f"wrote {args.template} treaty to {args.output}")
    return 0
