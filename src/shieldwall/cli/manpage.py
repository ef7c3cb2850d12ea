"""``shieldwall manpage``: the manual page, generated from the command's own parser.

Every command and option appears with the help text ``shieldwall COMMAND --help``
shows, so the page cannot drift from the program. Written as roff (``man(7)``), to be
installed as ``shieldwall.1``::

    shieldwall manpage > /usr/local/share/man/man1/shieldwall.1
    man shieldwall
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import Any

from shieldwall import __version__

SUMMARY = "collective defence for servers"
FILES = (
    ("/etc/shieldwall/agent.toml", "the agent's configuration ('agent run' reads it by default)"),
    ("/etc/shieldwall/agent.key", "the member's private key, written by 'agent init' (0600)"),
    ("/var/lib/shieldwall/agent", "the agent's outbox and log positions"),
    ("/var/lib/shieldwall/hub", "the hub's data directory in the service unit"),
)
ENVIRONMENT = (
    (
        "SHIELDWALL_HUB",
        "the hub's URL (or its nodes' URLs, comma-separated), for commands that talk to a hub",
    ),
    ("SHIELDWALL_ADMIN_TOKEN", "the secretariat's token, for its commands"),
    ("SHIELDWALL_CA", "a CA certificate (PEM) to trust for an https:// hub"),
)


def register(sub: Any) -> None:
    page = sub.add_parser(
        "manpage",
        help="print the manual page (roff) for /usr/local/share/man/man1/shieldwall.1",
    )
    page.set_defaults(func=cmd_manpage)


def cmd_manpage(args: argparse.Namespace) -> int:
    from shieldwall.cli import build_parser

    sys.stdout.write(render(build_parser()))
    return 0


def escape(text: str) -> str:
    """``text`` for roff: backslashes and hyphens escaped, other than ASCII as groff's
    ``\\[uXXXX]``, no line read as a request."""
    out = text.replace("\\", "\\e").replace("-", "\\-")
    out = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in out)
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in out.splitlines()
    )


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, argparse.ArgumentParser]]:
    """Every command below ``parser``, depth first: (words, help, its parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                yield (*path, name), helps.get(name, ""), child
                yield from commands(child, (*path, name))


def _is_group(parser: argparse.ArgumentParser) -> bool:
    return any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def options(parser: argparse.ArgumentParser) -> Iterator[argparse.Action]:
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        yield action


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.metavar is not None:
        return str(action.metavar)
    if action.choices is not None:
        return "{" + ",".join(map(str, action.choices)) + "}"
    return action.dest.upper() if action.option_strings else action.dest


def term(action: argparse.Action) -> str:
    """The option as roff: bold names, italic value."""
    value = _metavar(action)
    if not action.option_strings:
        return f"\\fI{escape(value)}\\fR"
    names = ", ".join(f"\\fB{escape(o)}\\fR" for o in action.option_strings)
    return f"{names} \\fI{escape(value)}\\fR" if value else names


def render(parser: argparse.ArgumentParser) -> str:
    prog = parser.prog
    lines = [
        f'.TH {prog.upper()} 1 "" "{prog} {__version__}" "User Commands"',
        ".nh",  # no hyphenation: options and paths stay whole words
        ".SH NAME",
        f"{prog} \\- {escape(SUMMARY)}",
        ".SH SYNOPSIS",
        f".B {prog}",
        "[\\fB\\-\\-version\\fR] \\fICOMMAND\\fR [\\fIACTION\\fR] [\\fIOPTIONS\\fR]",
        ".SH DESCRIPTION",
        escape(parser.description or ""),
        f"Each command takes \\fB\\-\\-help\\fR; \\fB{prog} \\fICOMMAND\\fB \\-\\-help\\fR "
        "shows what this page says about it.",
        ".SH OPTIONS",
    ]
    for action in options(parser):
        lines += [".TP", term(action), escape(action.help or "")]
    lines.append(".SH COMMANDS")
    for path, text, child in commands(parser):
        if _is_group(child):
            lines += [f'.SS "{escape(" ".join((prog, *path)))}"', escape(text)]
            continue
        usage = escape(" ".join((prog, *path)))
        lines += [f'.SS "{usage}"', escape(text)]
        for action in options(child):
            lines += [".TP", term(action), escape(action.help or "")]
    lines.append(".SH ENVIRONMENT")
    for name, text in ENVIRONMENT:
        lines += [".TP", f".B {name}", escape(text)]
    lines.append(".SH FILES")
    for name, text in FILES:
        lines += [".TP", f".I {escape(name)}", escape(text)]
    lines += [
        ".SH SEE ALSO",
        "The service units \\fIshieldwall\\-hub.service\\fR and "
        "\\fIshieldwall\\-agent.service\\fR; the project's docs/ pages.",
    ]
    return "\n".join(lines) + "\n"
