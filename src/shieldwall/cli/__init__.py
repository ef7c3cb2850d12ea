"""The ``shieldwall`` command.

Each module in this package that defines ``register(subparsers)`` adds its own
subcommands; a subcommand sets ``func`` to a callable taking the parsed arguments and
returning an exit code. User errors are raised as :class:`CLIError` and printed as one
line, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from shieldwall import __version__
from shieldwall.cli.common import CLIError, error_line

_INVALID_CHOICE = re.compile(
    r"argument (?P<arg>.+?): invalid choice: '(?P<given>.*?)' \(choose from (?P<choices>.*)\)"
)


def did_you_mean(message: str) -> str:
    """argparse's "invalid choice" message, shorter and with the nearest choice."""
    m = _INVALID_CHOICE.fullmatch(message)
    if m is None:
        return message
    choices = [c.strip().strip("'") for c in m["choices"].split(",")]
    import difflib  # only for a mistyped command

    given, arg = m["given"], m["arg"]
    what = "command" if arg in ("COMMAND", "ACTION") else arg
    close = difflib.get_close_matches(given, choices, n=1, cutoff=0.6)
    if close:
        return f"unknown {what} {given!r}: did you mean {close[0]!r}?"
    return f"unknown {what} {given!r}: choose one of {', '.join(choices)}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CLIError(f"{did_you_mean(message)} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    import pkgutil  # only for the full parser: a one-shot command starts without it

    return _build(sorted(info.name for info in pkgutil.iter_modules(__path__)))[0]


def _build(
    modules: Sequence[str], rest: Sequence[str] = ()
) -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser with the subcommands of ``modules``, and the commands they added; a
    ``register`` taking a second argument is given ``rest``, the words after the
    command, and may add only what they name."""
    parser = _Parser(prog="shieldwall", description="Collective defence for servers.")
    parser.add_argument("--version", action="version", version=f"shieldwall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in modules:
        if name == "common":
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if register is not None and register.__code__.co_argcount > 1:
            register(sub, rest)
        elif register is not None:
            register(sub)
    return parser, set(sub.choices)


def _parser_for(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for ``argv``: a command named like its module (``agent``) loads that
    module alone, so a one-shot command such as ``agent replay`` starts quickly."""
    command = argv[0] if argv else ""
    if (
        command.isidentifier()
        and command != "common"
        and importlib.util.find_spec(f"{__name__}.{command}") is not None
    ):
        parser, commands = _build([command], argv[1:])
        if command in commands:
            return parser
    return build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv)[0]


def script() -> NoReturn:
    """The installed ``shieldwall`` command: :func:`main`, then exit. A command that
    asks for it (``leave_at_once``: ``agent replay``, whose buckets and memo may hold
    millions of objects) leaves without freeing them one by one, once its output is
    flushed: nothing else is left to do, and the teardown would cost a tenth of a
    replay's time."""
    code, at_once = _main(None)
    if at_once:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            code = code or 141
        except OSError as exc:  # a full disk, a closed descriptor: say so, fail
            refused = _refused(exc)
            code = code or refused
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _main(argv: Sequence[str] | None) -> tuple[int, bool]:
    """(the exit code, whether the command asked to leave at once)."""
    at_once = False
    try:
        if argv is None:
            argv = sys.argv[1:]
        parser = _parser_for(argv)
        args = parser.parse_args(argv)
        at_once = bool(getattr(args, "leave_at_once", False))
        code = args.func(args)
        return int(code or 0), at_once
    except CLIError as exc:
        print(error_line(str(exc)), file=sys.stderr)
        return exc.code, at_once
    except KeyboardInterrupt:
        print("shieldwall: interrupted", file=sys.stderr)
        return 130, False
    except BrokenPipeError:
        return 141, False
    except OSError as exc:  # the system refused a read or write no command expected to fail
        return _refused(exc), False


def _refused(exc: OSError) -> int:
    """Say in one line what the system refused; the exit code."""
    where = f" ({exc.filename})" if exc.filename else ""
    print(
        error_line(f"{exc.strerror or exc}{where}: check the disk, the file and its permissions"),
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    script()
