"""Shared test helpers: gates for tests that need root, system tools or services.

Outside CI a missing prerequisite skips the test with the reason; with CI=true it
fails, so a check the issue asks for is never reported as passing when it did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

# Headless Chromium as this machine allows it: no sandbox as root, and none of the
# background connections a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        _missing(f"{name} is not installed (run scripts/system-deps.sh as root)")
        raise AssertionError("unreachable")
    return path


def require_root() -> None:
    if os.geteuid() != 0:
        _missing("this test needs root for network namespaces")


def require_env(var: str) -> str:
    value = os.environ.get(var, "")
    if not value:
        _missing(f"{var} is not set; point it at a real server to run this test")
    return value


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``shieldwall`` in-process with ``args``; expect one error line (exit 2, no
    traceback) and return it."""
    from shieldwall.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("shieldwall: error: "), err
    assert "Traceback" not in err
    return err
