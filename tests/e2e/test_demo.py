"""``shieldwall demo`` runs the whole alliance without root or network and says so."""

from __future__ import annotations

import re

import pytest

from .conftest import cli

pytestmark = pytest.mark.e2e


def test_demo_runs_and_summarises() -> None:
    result = cli("demo", "--members", "5", "--no-live", timeout=180)
    out = result.stdout
    assert "alliance decision" in out
    for i in range(1, 6):
        assert f"member{i}   enforced  203.0.113.66" in out
    enforced = re.search(r"first detection → enforced on every member │ \+([\d,]+) ms", out)
    assert enforced, out
    dropped = re.search(r"attempts dropped before reaching a member\s+│\s+(\d+)", out)
    assert dropped and int(dropped.group(1)) > 0, out


def test_demo_refuses_bad_flags() -> None:
    result = cli("demo", "--members", "1", check=False)
    assert result.returncode == 2
    assert "between 2 and 200" in result.stderr and "Traceback" not in result.stderr
