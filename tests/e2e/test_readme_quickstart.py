"""The README's quick start, pasted into a fresh shell after ``make demo``, works as
written (on a free port instead of 8470): each step says what the README says it does.

The block runs as a person would paste it, not under ``set -e``: the report against a
member's own address is meant to be refused (exit status 1, recorded as a dispute).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from shieldwall.procs import free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def quick_start() -> str:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start: an alliance by hand", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


def test_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    if not (REPO / ".venv" / "bin" / "activate").exists():
        pytest.fail(".venv is missing: the quick start follows 'make demo'", pytrace=False)
    script = quick_start()
    assert script.startswith(". .venv/bin/activate")
    script = script.replace("8470", str(free_port()))
    wrapped = f"trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}\n"
    env = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin", "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", wrapped], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    out, err = result.stdout, result.stderr
    why = out[-3000:] + err[-3000:]
    assert result.returncode == 0, why  # the last command, the revocation, succeeded
    for step in (
        "admin token:",
        "approved charlie: status active",
        "reported 203.0.113.9: consultation #1 open",
        "reported 203.0.113.9: decision #1 issued",
        "recorded as dispute #1",
        "revoked decision 1",
    ):
        assert step in out, f"missing {step!r}: {why}"
    assert "Traceback" not in err and "command not found" not in err, why
