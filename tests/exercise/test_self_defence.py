"""Members' local self-defence, on scenarios small enough to compute by hand.

Scenario "relay" (as in test_engine): one attacker hits member 0 ten times (t=0..90,
every 10 s), then member 1 (t=100..130) and member 2 (t=1000, 1010). Detectors fire
on the second event; links have no delay; signals reach the council in 5 s slices.

With self-defence a member bans the attacker on its own firewall the moment its
detector fires, for an hour, whatever the treaty does (nato's alerts are off here:
tests/exercise/test_alerts.py plays them):

* unilateral: the council's self-defence decisions (from 15, 115 and 1015) and the
  local bans (from 10, 110 and 1010) stop the same events: 20..90, 120, 130. Nothing
  is counted twice: absorbed 6, blocked 10, as without self-defence; no event is
  blocked by a local ban alone.
* nato: member 0's local ban stops 20..90 at once (before: it waited for the quorum
  at 115 and absorbed all ten); member 1's stops 120 and 130 (so does the decision
  of 115); member 2 is protected by the decision before its detector could fire, so
  it never bans locally. Absorbed 0, 10 | 100, 110 = 4, blocked 12, 2 local bans, 8
  events stopped by a local ban alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shieldwall.cli import main
from shieldwall.exercise.campaign import CampaignParams
from shieldwall.exercise.engine import run_treaty
from shieldwall.exercise.evaluate import evaluate
from shieldwall.exercise.members import MemberParams, RogueReports
from shieldwall.exercise.metrics import TreatyResult
from shieldwall.exercise.sweep import configured, load, parse_sweep
from shieldwall.exercise.world import Config, World
from tests.conftest import refused
from tests.exercise.helpers import (
    RELAY,
    SMALL,
    played,
    tiny_campaign,
    tiny_members,
    tiny_world,
)


def play(
    pairs: list[tuple[int, int, list[float]]],
    treaty: str,
    *,
    members: int = 3,
    users: dict[int, int] | None = None,
    **roster: object,
) -> TreatyResult:
    world = tiny_world(
        tiny_campaign(pairs, members, users=users),
        tiny_members(members, **roster),  # type: ignore[arg-type]
    )
    return played(world, treaty, alert__enabled=False)[1]


@pytest.mark.parametrize(
    ("treaty", "local", "absorbed", "blocked", "decisions", "local_bans", "local_only"),
    [
        pytest.param("unilateral", False, 6, 10, 3, 0, 0, id="unilateral-treaty-alone"),
        pytest.param("unilateral", True, 6, 10, 3, 3, 0, id="unilateral-not-double-counted"),
        pytest.param("nato", False, 12, 4, 1, 0, 0, id="nato-treaty-alone"),
        pytest.param("nato", True, 4, 12, 1, 2, 8, id="nato-with-self-defence"),
    ],
)
def test_relay_with_and_without_self_defence(
    treaty: str,
    local: bool,
    absorbed: int,
    blocked: int,
    decisions: int,
    local_bans: int,
    local_only: int,
) -> None:
    r = play(RELAY, treaty, self_defence=local)
    assert (r.attacks_absorbed, r.attacks_blocked) == (absorbed, blocked)
    assert (r.decisions, r.local_bans, r.blocked_locally_only) == (
        decisions,
        local_bans,
        local_only,
    )
    assert r.self_defence is local
    # The alliance's decision times do not change: nato protects everyone at 115.
    assert r.protection_delay_p50_s == (115.0 if treaty == "nato" else None)
    assert r.false_bans == 0


def test_short_ban_lets_the_detector_fire_again() -> None:
    """A 30 s ban: member 0 fires at 10 (ban to 40: stops 20, 30), needs two fresh
    events and fires at 50 (stops 60, 70) and at 90. It reports only the first firing
    (at most one report per findtime). Member 1 fires at 110; the quorum decision of
    115 protects member 2. Absorbed 0, 10, 40, 50, 80, 90 | 100, 110 = 8."""
    r = play(RELAY, "nato", self_defence=True, self_defence_ban_s=30.0)
    assert (r.attacks_absorbed, r.attacks_blocked) == (8, 8)
    assert (r.local_bans, r.blocked_locally_only, r.decisions) == (4, 4, 1)


@pytest.mark.parametrize(
    ("local", "absorbed", "blocked", "consultations"),
    [
        pytest.param(False, 5, 0, 2, id="no-self-defence-nothing-stops-it"),
        pytest.param(True, 4, 1, 2, id="banned-again-after-the-ban-expires"),
    ],
)
def test_single_victim_returning_after_the_ban(
    local: bool, absorbed: int, blocked: int, consultations: int
) -> None:
    """One member, hit at 0 and 10, then again at 3700, 3710, 3720. The first ban
    (10..3610) is over when the attacker returns; the detector needs two fresh events
    and fires at 3710, so 3720 is stopped. Nobody corroborates: no decision, two
    consultations (one per report)."""
    pairs = [(0, 0, [0.0, 10.0, 3700.0, 3710.0, 3720.0])]
    r = play(pairs, "nato", self_defence=local)
    assert (r.attacks_absorbed, r.attacks_blocked) == (absorbed, blocked)
    assert (r.decisions, r.consultations) == (0, consultations)


def test_free_rider_defends_itself_but_reports_nothing() -> None:
    """Member 1 never reports. Its local ban stops 120 and 130; without its report
    there is no quorum at 110, and member 2's report at 1010 comes 1000 s after
    member 0's, outside the 15-minute window: no decision at all."""
    r = play(RELAY, "nato", self_defence=True, free=(1,))
    assert (r.attacks_absorbed, r.attacks_blocked) == (6, 10)
    assert (r.decisions, r.consultations) == (0, 2)
    assert r.free_rider_protection == 0.5


ONE_VICTIM = [(0, 0, [0.0, 10.0, 20.0])]


@pytest.mark.parametrize(
    ("pairs", "treaty", "local", "false_bans", "user_hours"),
    [
        pytest.param(RELAY, "unilateral", False, 3, 40.0, id="unilateral-decisions-only"),
        # Each local ban (10, 110, 1010) overlaps the member's own decision (15, 115,
        # 1015): the same ban, counted once; the 5 s before each decision add hours.
        pytest.param(
            RELAY, "unilateral", True, 3, 40.0 + 3 * 40 / 3 * 5 / 3600, id="unilateral-once"
        ),
        pytest.param(RELAY, "nato", False, 1, 40.0, id="nato-decision-only"),
        # Member 0 banned from 10, member 1 from 110; the collective ban from 115.
        pytest.param(RELAY, "nato", True, 1, 40.0 + 40 / 3 * 110 / 3600, id="nato-plus-local"),
        pytest.param(ONE_VICTIM, "nato", False, 0, 0.0, id="single-victim-no-ban"),
        # Only the local ban: one member of three, one hour, 40 users.
        pytest.param(ONE_VICTIM, "nato", True, 1, 40 / 3, id="single-victim-local-ban"),
    ],
)
def test_local_bans_on_shared_nat_addresses_are_false_bans(
    pairs: list[tuple[int, int, list[float]]],
    treaty: str,
    local: bool,
    false_bans: int,
    user_hours: float,
) -> None:
    """The attacker sits behind a CGNAT address shared with 40 benign users."""
    r = play(pairs, treaty, users={0: 40}, self_defence=local)
    assert (r.false_bans, r.rogue_false_bans) == (false_bans, 0)
    assert r.false_ban_user_hours == pytest.approx(user_hours, abs=1e-3)


@pytest.mark.parametrize("treaty", ["unilateral", "nato"])
def test_rogue_report_against_a_member_network_is_a_dispute(treaty: str) -> None:
    """Members declare their networks on joining: even under quorum 1 a rogue's report
    against member 0's address is refused as a dispute and bans nobody."""
    world = tiny_world(tiny_campaign(RELAY, 3), tiny_members(3, rogue=(2,)))
    world.rogue = RogueReports(
        np.array([50.0]), np.array([2]), np.array([-1]), accused=np.array([0])
    )
    changes = {"quorum": 1} if treaty == "nato" else None
    run = run_treaty(world, load(treaty, changes))
    r = evaluate(run, world)
    assert r.disputes == 1
    assert all(rec.decision.target != "81.0.0.10" for rec in run.records)


def test_variant_shares_the_world_and_switches_only_self_defence() -> None:
    cfg = Config(members=12, seed=3, campaign=CampaignParams(events=3000, sources=60))
    world = World(cfg)
    plain = world.variant(False)
    assert world.self_defence and not plain.self_defence
    assert plain.campaign is world.campaign and plain.rogue is world.rogue
    assert world.variant(True) is world
    assert plain.config.behaviour.self_defence is False
    assert world.config.behaviour.self_defence is True


@pytest.mark.parametrize(
    ("text", "name", "values"),
    [
        pytest.param("self_defence=0..1", "self_defence", [0.0, 1.0], id="on-off"),
        pytest.param(
            "self_defence_ban_s=600,3600", "self_defence_ban_s", [600.0, 3600.0], id="ban"
        ),
    ],
)
def test_self_defence_is_sweepable(text: str, name: str, values: list[float]) -> None:
    assert parse_sweep(text) == (name, values)
    cfg = configured(Config(), name, values[0])
    assert getattr(cfg.behaviour, name) == (False if name == "self_defence" else 600.0)


def test_bad_ban_duration_is_refused() -> None:
    with pytest.raises(ValueError, match=r"self_defence_ban_s=0\.5 is out of range: give a number"):
        MemberParams(self_defence_ban_s=0.5)


def test_json_reports_both_modes(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["exercise", *SMALL, "--compare", "unilateral,nato", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["self_defence"] is True and doc["self_defence_ban_s"] == 3600.0
    assert doc["member_params"]["self_defence"] is True
    pure = doc["treaties_without_self_defence"]
    assert list(pure) == list(doc["treaties"]) == ["unilateral", "nato"]
    assert all(r["self_defence"] for r in doc["treaties"].values())
    assert not any(r["self_defence"] or r["local_bans"] for r in pure.values())
    for r in [*doc["treaties"].values(), *pure.values()]:
        assert r["attacks_absorbed"] + r["attacks_blocked"] == 6000


def test_no_self_defence_flag(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["exercise", *SMALL, "--compare", "nato", "--no-self-defence", "--json", str(out)]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["self_defence"] is False and "treaties_without_self_defence" not in doc
    assert doc["treaties"]["nato"]["local_bans"] == 0


def test_no_self_defence_contradiction_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["exercise", *SMALL, "--no-self-defence", "--param", "self_defence=true"]
    assert "--no-self-defence contradicts --param self_defence=true" in refused(args, capsys)
