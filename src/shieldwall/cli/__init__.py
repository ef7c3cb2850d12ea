"""The ``shieldwall`` command.

Each module in this package that defines ``register(subparsers)`` adds its own
subcommands; a subcommand sets ``func`` to a callable taking the parsed arguments and
returning an exit code. User errors are raised as :class:`CLIError` and printed as one
line, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from shieldwall import __version__
from shieldwall.cli.common import CLIError, error_line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="shieldwall", description="Collective defence for servers.")
    parser.add_argument("--version", action="version", version=f"shieldwall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        code = args.func(args)
        return int(code or 0)
    except CLIError as exc:
        print(error_line(str(exc)), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("shieldwall: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 141


if __name__ == "__main__":
    sys.exit(main())
