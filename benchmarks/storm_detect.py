"""Detection in an alert storm: whole commands timed side by side on one sshd log.

For each attack share (10%, 40%, 80% of the lines by default) one log is generated
(:mod:`benchmarks.storm_log`, 200,000 lines, seed 42), then each command runs on it in
turn, round after round, so all of them meet the same machine load:

* ``shieldwall agent replay --fail2ban-filter sshd.conf LOG`` (``f2b``)
* ``shieldwall agent replay --scenario ssh-bruteforce LOG`` (``scenario``)
* ``fail2ban-regex LOG sshd.conf`` (``fail2ban_regex``)
* ``crowdsec -dsn file://LOG -type syslog`` with CrowdSec's sshd parsers and
  scenarios (``crowdsec``, one round: it takes a minute)

Time is the wall time of the whole command, Python start-up included, the best of the
rounds; memory is the command's peak RSS (``wait4``'s ``ru_maxrss``, the command
started from a small launcher so that the benchmark's own memory is not counted).
Output goes to ``/dev/null``. The matched-line counts of our filter engine and of fail2ban-regex are
recorded too: they must be equal.

    python -m benchmarks.storm_detect     (SHIELDWALL_BENCH_STORM_LINES, _SHARES, _ROUNDS)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import crowdsec_replay, storm_log
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter

SSHD_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")


def _shieldwall() -> list[str]:
    script = Path(sys.executable).parent / "shieldwall"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from shieldwall.cli import script; script()"]


# Runs one command and prints its wall time and peak RSS. A child's ``ru_maxrss`` starts
# from the memory of the process it was forked from (fork, then exec, keep the high-water
# mark), so the command is started from this small interpreter, not from the benchmark.
_LAUNCHER = """
import os, sys, time
null = os.open(os.devnull, os.O_WRONLY)
started = time.perf_counter()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ,
                      file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run of ``argv``, its output discarded."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, *argv],
        capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    wall, maxrss, code = done.stdout.split()
    if int(code):
        raise RuntimeError(f"{argv[0]} exited {code}: {done.stderr[-2000:]}")
    return float(wall), int(maxrss) / 1024


def _regex_matched(log: Path) -> int:
    out = subprocess.run(
        ["fail2ban-regex", str(log), str(SSHD_FILTER)],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    for row in out.splitlines():
        if row.startswith("Lines:"):  # "Lines: 200000 lines, 0 ignored, 80569 matched, ..."
            return int(row.split(",")[2].split()[0])
    raise RuntimeError("fail2ban-regex printed no 'Lines:' summary")


def _ours_matched(log: Path) -> int:
    engine = FilterEngine(load_filter(SSHD_FILTER), check_all=True)  # as fail2ban-regex
    return sum(1 for r in engine.feed(log.read_bytes(), time.time()) if r.matched)


def storm(log: Path, tag: str, rounds: int, crowdsec: Path | None) -> dict[str, float]:
    commands = {
        "f2b": [
            *_shieldwall(),
            "agent",
            "replay",
            "--fail2ban-filter",
            str(SSHD_FILTER),
            str(log),
        ],
        "scenario": [*_shieldwall(), "agent", "replay", "--scenario", "ssh-bruteforce", str(log)],
        "fail2ban_regex": ["fail2ban-regex", str(log), str(SSHD_FILTER)],
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(rounds):
        for name, argv in commands.items():
            wall, rss = measure(argv)
            if name not in best or wall < best[name][0]:
                best[name] = (wall, rss)
    figures: dict[str, float] = {}
    for name, (wall, rss) in best.items():
        figures[f"{tag}_{name}_seconds"] = round(wall, 2)
        figures[f"{tag}_{name}_rss_mb"] = round(rss, 1)
    if crowdsec is not None:
        wall, rss = measure(crowdsec_replay.command(crowdsec, log))
        figures[f"{tag}_crowdsec_seconds"] = round(wall, 1)
        figures[f"{tag}_crowdsec_rss_mb"] = round(rss, 1)
    regex = best["fail2ban_regex"][0]
    figures[f"{tag}_f2b_speedup_vs_fail2ban_regex"] = round(regex / best["f2b"][0], 1)
    figures[f"{tag}_scenario_speedup_vs_fail2ban_regex"] = round(regex / best["scenario"][0], 1)
    figures[f"{tag}_f2b_matched"] = _ours_matched(log)
    figures[f"{tag}_fail2ban_regex_matched"] = _regex_matched(log)
    return figures


def run() -> dict[str, float]:
    if shutil.which("fail2ban-regex") is None or not SSHD_FILTER.is_file():
        print("   note: fail2ban-regex not installed, storm case not measured", file=sys.stderr)
        return {}
    lines = int(os.environ.get("SHIELDWALL_BENCH_STORM_LINES", "200000"))
    shares = [int(s) for s in os.environ.get("SHIELDWALL_BENCH_STORM_SHARES", "10,40,80").split(",")]  # fmt: skip
    rounds = int(os.environ.get("SHIELDWALL_BENCH_STORM_ROUNDS", "3"))
    figures: dict[str, float] = {"storm_log_lines": lines, "storm_rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="sw-bench-storm-") as tmp_:
        tmp = Path(tmp_)
        crowdsec = None
        if crowdsec_replay.available():
            crowdsec = crowdsec_replay.setup(tmp / "crowdsec")
        else:
            print("   note: crowdsec not installed (scripts/bench-deps.sh)", file=sys.stderr)
        for share in shares:
            log = tmp / f"storm{share}.log"
            storm_log.generate(log, lines, share / 100)
            figures.update(storm(log, f"storm{share}", rounds, crowdsec))
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:48} {value}")
