"""Exercise engine speed: the 1,000-member / 1,000,000-event campaign against nato.

Figures: campaign generation time, the whole run (generation, detectors, the real
council, metrics) for one treaty, and attack events per second through the engine.
Target: the 1,000 x 1,000,000 run in under 60 s. Members defend themselves
locally (the default); ``nato_no_self_defence_run_s`` is the treaty alone. ``un`` and
``league`` admit their 1,000 members by majority and unanimity votes (500,000 votes
for league), which the council must tally without rescanning the roster.
"""

from __future__ import annotations

import time

from shieldwall.exercise.campaign import CampaignParams
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.sweep import load
from shieldwall.exercise.world import Config, World

MEMBERS = 1_000
EVENTS = 1_000_000
SOURCES = 20_000


def run() -> dict[str, float]:
    cfg = Config(members=MEMBERS, seed=7, campaign=CampaignParams(events=EVENTS, sources=SOURCES))
    figures: dict[str, float] = {"members": MEMBERS, "events": EVENTS}
    t0 = time.perf_counter()
    world = World(cfg)
    figures["generate_s"] = round(time.perf_counter() - t0, 3)
    for name in ("nato", "unilateral", "un", "league"):
        t1 = time.perf_counter()
        result = evaluate(run_treaty(world, load(name)), world)
        took = time.perf_counter() - t1
        figures[f"{name}_council_run_s"] = round(took, 3)
        figures[f"{name}_decisions"] = result.decisions
        if name == "nato":
            total = figures["generate_s"] + took
            figures["run_1000x1M_s"] = round(total, 3)
            figures["events_per_s"] = round(EVENTS / total)
    t2 = time.perf_counter()
    evaluate(run_treaty(world.variant(False), load("nato")), world.variant(False))
    figures["nato_no_self_defence_run_s"] = round(time.perf_counter() - t2, 3)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key}: {value}")
