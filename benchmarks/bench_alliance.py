"""End to end on one machine: from the attack line written on the members' logs to the
block enforced on every member (real hub, real agent processes, file enforcers).

Each round an attacker hits member1 and member2 at the same moment (nato needs two
independent reports); the clock starts when the line that crosses the detection
threshold is written, and stops when the last member's agent reports the block
enforced.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from shieldwall.demo.alliance import Alliance
from shieldwall.demo.sweep import failed_login, timeline

MEMBERS = 5
ROUNDS = 10
THRESHOLD = 5  # ssh-bruteforce: 5 failures within 10 minutes


def run() -> dict[str, float]:
    delays: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sw-bench-alliance-") as tmp:
        alliance = Alliance(Path(tmp), MEMBERS)
        alliance.start()
        try:
            for r in range(ROUNDS):
                ip = f"198.18.200.{r + 1}"
                lines = "".join(failed_login(ip, n) for n in range(THRESHOLD - 1))
                for member in alliance.members[:2]:
                    with open(member.log, "a") as fh:
                        fh.write(lines)
                time.sleep(0.3)
                t0 = time.time()
                if timeline(alliance, ip).first_detection is not None:
                    raise RuntimeError(f"{ip} was detected before the threshold line")
                last = failed_login(ip, THRESHOLD)  # the line that crosses the threshold
                for member in alliance.members[:2]:
                    with open(member.log, "a") as fh:
                        fh.write(last)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    line = timeline(alliance, ip)
                    if line.all_enforced is not None:
                        delays.append(line.all_enforced - t0)
                        break
                    time.sleep(0.01)
                else:
                    raise RuntimeError(f"round {r}: not every member enforced {ip}")
        finally:
            alliance.stop()
    ordered = sorted(delays)
    return {
        "alliance_members": MEMBERS,
        "attack_line_to_all_enforced_p50_ms": round(statistics.median(delays) * 1000, 1),
        "attack_line_to_all_enforced_max_ms": round(ordered[-1] * 1000, 1),
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<44} {value}")
