"""Detection throughput: built-in scenarios, a fail2ban filter, and fail2ban-regex itself.

Generates a reproducible mixed log (sshd + nginx + postfix + dovecot + noise, seed 42),
then measures lines/s of the built-in engine, of our fail2ban engine running Debian's
sshd filter, and of ``fail2ban-regex`` on the same file with the same filter (when
installed), plus memory in an attack storm of distinct addresses.

The alert-storm case (:mod:`benchmarks.storm_detect`) times whole commands on sshd
logs where 10%, 40% and 80% of the lines are attacks, side by side with
``fail2ban-regex`` and CrowdSec's own replay.

    python -m benchmarks.bench_detect        (SHIELDWALL_BENCH_LINES=N to change size)
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import storm_detect
from shieldwall.agent.detect import DetectionEngine
from shieldwall.agent.gc_pace import pace_for_logs
from shieldwall.agent.lines import replay_chunks
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter

SSHD_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")
MONTH = "Mar"


def _ip(rng: random.Random, attackers: list[str]) -> str:
    if rng.random() < 0.5:
        return rng.choice(attackers)
    return (
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


def generate(path: Path, lines: int, seed: int = 42) -> None:
    """A mixed log: 15% sshd, 50% nginx, 10% mail, 25% noise; about 8% are attack lines."""
    rng = random.Random(seed)
    attackers = [f"203.0.113.{i}" for i in range(1, 60)] + [
        f"2001:db8::{i:x}" for i in range(1, 20)
    ]
    users = ["root", "admin", "test", "oracle", "ubuntu", "pi", "git", "postgres", "deploy"]
    paths = ["/", "/index.html", "/static/app.js", "/api/v1/items?page=2", "/favicon.ico"]
    bad = ["/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/", "/xmlrpc.php"]
    agents = [
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/123.0",
        "curl/8.5.0",
        "sqlmap/1.7.2",
        "Nikto/2.5",
    ]
    out = []
    second = 0
    with path.open("w") as fh:
        for n in range(lines):
            if n % 200 == 0:
                second += 1
            hh, mm, ss = (second // 3600) % 24, (second // 60) % 60, second % 60
            stamp = f"{MONTH}  3 {hh:02d}:{mm:02d}:{ss:02d}"
            pid = 20000 + (n % 7919)
            r = rng.random()
            if r < 0.15:
                kind = rng.random()
                ip = _ip(rng, attackers)
                user = rng.choice(users)
                if kind < 0.25:
                    line = f"{stamp} web1 sshd[{pid}]: Failed password for {user} from {ip} port {rng.randint(1024, 65535)} ssh2"
                elif kind < 0.35:
                    line = f"{stamp} web1 sshd[{pid}]: Invalid user {user} from {ip} port {rng.randint(1024, 65535)}"
                elif kind < 0.45:
                    line = f"{stamp} web1 sshd[{pid}]: Connection closed by authenticating user {user} {ip} port {rng.randint(1024, 65535)} [preauth]"
                elif kind < 0.65:
                    line = f"{stamp} web1 sshd[{pid}]: Accepted publickey for deploy from 192.0.2.10 port {rng.randint(1024, 65535)} ssh2: ED25519 SHA256:x"
                elif kind < 0.85:
                    line = f"{stamp} web1 sshd[{pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)"
                else:
                    line = f"{stamp} web1 sshd[{pid}]: Received disconnect from 192.0.2.10 port 50312:11: disconnected by user"
            elif r < 0.65:
                ip = _ip(rng, attackers)
                kind = rng.random()
                path_ = rng.choice(bad) if kind < 0.01 else rng.choice(paths)
                status = 404 if kind < 0.03 else (401 if kind < 0.04 else 200)
                agent = rng.choice(agents) if kind < 0.02 else agents[0]
                line = (
                    f'{ip} - - [03/{MONTH}/2024:{hh:02d}:{mm:02d}:{ss:02d} +0000] "GET {path_} HTTP/1.1" '
                    f'{status} {rng.randint(100, 90000)} "-" "{agent}"'
                )
            elif r < 0.75:
                ip = _ip(rng, attackers)
                if rng.random() < 0.1:
                    line = f"{stamp} mx1 postfix/smtpd[{pid}]: warning: unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
                elif rng.random() < 0.1:
                    line = f"{stamp} mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<info>, method=PLAIN, rip={ip}, lip=192.0.2.1, TLS"
                else:
                    line = f"{stamp} mx1 postfix/smtpd[{pid}]: connect from mail.example.org[192.0.2.25]"
            else:
                line = rng.choice([
                    f"{stamp} web1 CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
                    f"{stamp} web1 systemd[1]: Started Session {n % 999} of User deploy.",
                    f"{stamp} web1 kernel: [{n}.000000] [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.{n % 250} DST=192.0.2.1 PROTO=TCP DPT=23",
                    f"{stamp} web1 systemd-logind[612]: New session {n % 999} of user deploy.",
                ])  # fmt: skip
            out.append(line)
            if len(out) >= 10000:
                fh.write("\n".join(out) + "\n")
                out.clear()
        if out:
            fh.write("\n".join(out) + "\n")


def _rss_now_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e6


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image (``VmHWM``: unlike ``ru_maxrss`` it does
    not carry over the parent's peak through fork and exec), in MB."""
    with open("/proc/self/status") as fh:
        for row in fh:
            if row.startswith("VmHWM:"):
                return int(row.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status: Linux only")


def _bench_builtin(path: Path, lines: int, now: float) -> dict[str, float]:
    chunks = list(replay_chunks(path))
    engine = DetectionEngine()
    t0 = time.perf_counter()
    offences = 0
    for chunk in chunks:
        offences += len(engine.feed(chunk, now))
    elapsed = time.perf_counter() - t0
    return {
        "builtin_lines_per_s": round(lines / elapsed),
        "builtin_seconds": round(elapsed, 3),
        "builtin_events": engine.hits,
        "builtin_event_share_pct": round(100 * engine.hits / lines, 1),
        "builtin_offences": offences,
    }


def _bench_filter(path: Path, lines: int, now: float) -> dict[str, float]:
    chunks = list(replay_chunks(path))
    engine = FilterEngine(load_filter(SSHD_FILTER))
    t0 = time.perf_counter()
    matched = 0
    for chunk in chunks:
        matched += sum(1 for r in engine.feed(chunk, now) if r.matched)
    elapsed = time.perf_counter() - t0
    return {
        "f2b_sshd_lines_per_s": round(lines / elapsed),
        "f2b_sshd_seconds": round(elapsed, 3),
        "f2b_sshd_matched": matched,
        "f2b_sshd_candidates": engine.candidates,
    }


def _bench_fail2ban_regex(path: Path, lines: int) -> dict[str, float]:
    tool = shutil.which("fail2ban-regex")
    if tool is None or not SSHD_FILTER.is_file():
        return {}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [tool, str(path), str(SSHD_FILTER)], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - t0
    matched = -1.0
    for row in proc.stdout.splitlines():
        if row.startswith("Lines:"):
            # "Lines: 1000000 lines, 12 ignored, 3456 matched, 99999 missed"
            matched = float(row.split(",")[2].split()[0])
    return {
        "fail2ban_regex_lines_per_s": round(lines / elapsed),
        "fail2ban_regex_seconds": round(elapsed, 3),
        "fail2ban_regex_matched": matched,
    }


STORM_ADDRESSES = 500_000


def _storm_block(first: int, count: int) -> bytes:
    """Attack lines from ``count`` distinct addresses, for every kind of scenario."""
    rows = []
    for i in range(first, first + count):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        kind = i % 4
        if kind == 0:
            rows.append(
                f"Mar  3 06:31:12 web1 sshd[1]: Failed password for root from {ip} port 22 ssh2"
            )
        elif kind == 1:
            rows.append(
                f'{ip} - - [03/Mar/2024:06:31:12 +0000] "GET /.env HTTP/1.1" 404 153 "-" '
                f'"sqlmap/1.7.2"'
            )
        elif kind == 2:
            rows.append(
                f"Mar  3 06:31:12 mx1 postfix/smtpd[7]: warning: unknown[{ip}]: SASL LOGIN "
                "authentication failed: UGFzc3dvcmQ6"
            )
        else:
            rows.append(
                f"Mar  3 06:31:12 web1 sshd[1]: Connection closed by invalid user a {ip} port 22"
                " [preauth]"
            )
    return ("\n".join(rows) + "\n").encode()


def _storm_child() -> None:
    """Runs in a fresh process, so its peak RSS is the storm's alone: the log is generated
    block by block (one block of 10,000 lines alive at a time), never held whole."""
    now = time.mktime((2024, 3, 4, 0, 0, 0, 0, 0, -1))
    engine = DetectionEngine()
    _storm_block(0, 10).decode()  # warm up the code paths before the baseline
    before = _rss_now_mb()
    started = time.perf_counter()
    offences = 0
    for first in range(0, STORM_ADDRESSES, 10_000):
        offences += len(engine.feed(_storm_block(first, 10_000), now))
    elapsed = time.perf_counter() - started
    gc.collect()
    figures = {
        "storm_addresses": STORM_ADDRESSES,
        "storm_buckets_kept": engine.buckets,
        "storm_offences": offences,
        "storm_seconds": round(elapsed, 2),
        "storm_rss_growth_mb": round(_peak_rss_mb() - before, 1),
        "storm_rss_held_mb": round(_rss_now_mb() - before, 1),
    }
    print(json.dumps(figures))


def _bench_storm() -> dict[str, float]:
    """Memory in an attack storm of distinct addresses hitting every kind of scenario.

    ``storm_rss_growth_mb``: peak RSS of a fresh process during the storm minus its RSS
    before (it includes the 10,000-line block being fed). ``storm_rss_held_mb``: RSS
    still held when the storm is over (the engine's buckets).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_detect", "--storm-child"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


def run() -> dict[str, float]:
    # the engines are fed as the agent feeds them (`agent run`, `agent replay`): with the
    # young generation collected at the agent's pace, not at the interpreter's default
    pace_for_logs()
    lines = int(os.environ.get("SHIELDWALL_BENCH_LINES", "1000000"))
    now = time.mktime((2024, 3, 4, 0, 0, 0, 0, 0, -1))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mixed.log"
        generate(path, lines)
        figures: dict[str, float] = {"lines": lines, "log_mb": round(path.stat().st_size / 1e6, 1)}
        figures.update(_bench_builtin(path, lines, now))
        if SSHD_FILTER.is_file():
            figures.update(_bench_filter(path, lines, now))
            figures.update(_bench_fail2ban_regex(path, lines))
            if "fail2ban_regex_lines_per_s" in figures:
                figures["f2b_sshd_speedup_vs_fail2ban_regex"] = round(
                    figures["f2b_sshd_lines_per_s"] / figures["fail2ban_regex_lines_per_s"], 1
                )
                figures["builtin_speedup_vs_fail2ban_regex"] = round(
                    figures["builtin_lines_per_s"] / figures["fail2ban_regex_lines_per_s"], 1
                )
    figures.update(_bench_storm())
    figures.update(storm_detect.run())
    return figures


if __name__ == "__main__":
    if sys.argv[1:] == ["--storm-child"]:
        _storm_child()
        sys.exit(0)
    for name, value in run().items():
        print(f"{name:40} {value}")
    sys.exit(0)
