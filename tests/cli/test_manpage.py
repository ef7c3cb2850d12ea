"""``shieldwall manpage``: every command and option, with help, rendered by man itself."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shieldwall.cli import build_parser, main
from shieldwall.cli.manpage import commands, escape, options, render
from tests.conftest import require_tool


def every_option() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    found = [("shieldwall", a) for a in options(parser)]
    for path, _, child in commands(parser):
        found += [(" ".join(("shieldwall", *path)), a) for a in options(child)]
    return found


def test_every_command_and_option_has_help() -> None:
    missing = [" ".join(("shieldwall", *p)) for p, text, _ in commands(build_parser()) if not text]
    missing += [
        f"{where} {a.option_strings or a.dest}" for where, a in every_option() if not a.help
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("text", "roff"),
    [
        pytest.param("--hub URL", "\\-\\-hub URL", id="hyphens"),
        pytest.param("C:\\path", "C:\\epath", id="backslash"),
        pytest.param(".hidden\n'quoted", "\\&.hidden\n\\&'quoted", id="request-lines"),
        pytest.param("a … b", "a \\[u2026] b", id="non-ascii"),
    ],
)
def test_escape(text: str, roff: str) -> None:
    assert escape(text) == roff


def test_manpage_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manpage"]) == 0
    assert capsys.readouterr().out == render(build_parser())


def test_man_renders_every_command_and_option(tmp_path: Path) -> None:
    man = require_tool("man")
    groff = require_tool("groff")
    page = tmp_path / "shieldwall.1"
    page.write_text(render(build_parser()))
    warnings = subprocess.run(
        [groff, "-man", "-Tutf8", "-ww", "-z", str(page)], capture_output=True, text=True
    )
    assert (warnings.returncode, warnings.stderr) == (0, "")
    shown = subprocess.run(
        [man, "-P", "cat", "-l", str(page)],
        capture_output=True,
        text=True,
        env={**os.environ, "MANWIDTH": "200", "LC_ALL": "C.UTF-8"},
        check=True,
    ).stdout
    assert shown.startswith("SHIELDWALL(1)")
    text = " ".join(shown.replace("\u2010", "-").split())  # one line, hyphens as typed
    for path, help_text, _ in commands(build_parser()):
        assert f"shieldwall {' '.join(path)} {' '.join(help_text.split())}" in text
    for where, action in every_option():
        for option in action.option_strings:
            assert option in text, (where, option)
        assert " ".join((action.help or "").split()) in text, (where, action.help)


def test_man_finds_the_page_where_the_readme_installs_it(tmp_path: Path) -> None:
    man = require_tool("man")
    (tmp_path / "man1").mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "shieldwall", "manpage"], capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "man1" / "shieldwall.1").write_text(out)
    where = subprocess.run(
        [man, "-w", "shieldwall"],
        capture_output=True,
        text=True,
        env={**os.environ, "MANPATH": str(tmp_path)},
    )
    assert where.stdout.strip() == str(tmp_path / "man1" / "shieldwall.1")
