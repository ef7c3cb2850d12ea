"""Council throughput in-process: signals and decisions per second on one core.

A realistic mix under the nato template: 8 members, quorum 2, a population of
attackers of which most hit one member only (consultations that expire), a third
hit two or more (decisions), a few are repeat offenders (recidivism) and 1 % of
reports name a member's own address (disputes). Signals arrive in batches of 500
while virtual time advances, so expiry and timeouts are exercised too.
"""

from __future__ import annotations

import random
import time

from shieldwall.core.council import Council
from shieldwall.core.model import Signal
from shieldwall.core.treaty import load_template

MEMBERS = 8
SIGNALS = 300_000
BATCH = 500


def _workload(seed: int = 7) -> list[list[Signal]]:
    rng = random.Random(seed)
    names = [f"m{i}" for i in range(MEMBERS)]
    signals: list[Signal] = []
    t = 1000.0
    while len(signals) < SIGNALS:
        t += 0.01
        a = rng.randrange(1, 2**24)
        attacker = f"{(a >> 16) + 1}.{(a >> 8) & 255}.{a & 255}.{rng.randrange(1, 255)}"
        if rng.random() < 0.01:
            attacker = f"10.0.{rng.randrange(MEMBERS)}.1"  # a member's own address
        hits = 1 if rng.random() < 0.65 else rng.randrange(2, 5)
        for member in rng.sample(names, hits):
            signals.append(Signal(member, attacker, "ssh-bruteforce", t))
    return [signals[i : i + BATCH] for i in range(0, len(signals), BATCH)]


def _council() -> Council:
    council = Council(load_template("nato"))
    for i in range(MEMBERS):
        council.apply(f"m{i}", [f"10.0.{i}.1"], 0.0)
        council.approve(f"m{i}", 0.0)
    return council


def run() -> dict[str, float]:
    batches = _workload()
    council = _council()
    decisions = 0
    started = time.perf_counter()
    for batch in batches:
        decisions += len(council.step(batch, batch[-1].at).decisions)
    elapsed = time.perf_counter() - started
    total = sum(len(b) for b in batches)
    return {
        "council_signals_per_s": round(total / elapsed),
        "council_decisions_per_s": round(decisions / elapsed),
        "council_signals": total,
        "council_decisions": decisions,
    }


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
