"""Fair burden sharing in the exercise: members report what they had to report.

One attacker hits m0 (0, 10), m1 (20, 30) and m2 (25, 28); m2 is a free rider and m3
is never attacked. Detectors fire on the second event: m0 at 10, m1 at 30 make the
nato quorum; m2's detector fired at 28, before the decision, so m2 had an attack to
report and did not. A second attacker hits m0 after an hour so that the ledger hears
the members' hourly reports. Every member received the decision; only m2 is warned.
"""

from __future__ import annotations

from shieldwall.core.treaty import load_template
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.timeline import T0
from tests.exercise.helpers import tiny_campaign, tiny_members, tiny_world

PAIRS = [
    (0, 0, [0.0, 10.0]),
    (0, 1, [20.0, 30.0]),
    (0, 2, [25.0, 28.0]),
    (1, 0, [4000.0]),
]


def test_only_the_attacked_silent_member_is_a_free_rider() -> None:
    world = tiny_world(tiny_campaign(PAIRS, 4), tiny_members(4, free=(2,)))
    run = run_treaty(world, load_template("nato"))
    result = evaluate(run, world)
    assert result.decisions == 1
    ledger = {e.member: e for e in run.council.ledger(T0 + world.campaign.end)}
    assert {n: (e.exposure, e.consumption) for n, e in ledger.items()} == {
        "m0000": (1, 1),
        "m0001": (1, 1),
        "m0002": (1, 1),
        "m0003": (0, 1),
    }
    assert {n: e.standing for n, e in ledger.items()} == {
        "m0000": "ok",
        "m0001": "ok",
        "m0002": "warned",
        "m0003": "ok",
    }
    assert result.standing == {"ok": 3, "warned": 1}
