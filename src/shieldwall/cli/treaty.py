"""``shieldwall treaty show|check|init``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shieldwall.cli.common import CLIError, add_subparsers, console, print_json


def register(sub: Any) -> None:
    treaty = sub.add_parser("treaty", help="treaty files and templates")
    actions = add_subparsers(treaty, "treaty_action")
    show = actions.add_parser("show", help="show a treaty file or template, validated")
    show.add_argument("file", help="a treaty TOML file or a template name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_show)
    check = actions.add_parser("check", help="validate a treaty file")
    check.add_argument("file", type=Path)
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_check)
    init = actions.add_parser("init", help="print a template to start a treaty from")
    init.add_argument("--template", default="nato")
    init.add_argument("--output", type=Path, help="write to this file instead of stdout")
    init.set_defaults(func=cmd_init)


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


def cmd_show(args: argparse.Namespace) -> int:
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
