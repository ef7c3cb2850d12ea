"""The oracle reference row and the share of its possible gain a treaty captures.

Scenario "relay" (see test_self_defence): member 0's detector fires on the event at
10. The oracle blocks the attacker at every member from then on: it absorbs 0 and
10 only (2 events). With self-defence, unilateral absorbs 6; nato without alerts
absorbs 4 and captures (6 - 4) / (6 - 2) = 0.5 of the possible gain; with its alerts
member 1 stops the attacker at its first event (absorbed 3: 0, 10, 100), 0.75.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.exercise.oracle import caught_at, gain_captured, oracle, with_gain
from shieldwall.exercise.report_html import render
from shieldwall.exercise.world import World
from tests.exercise.helpers import RELAY, SMALL, played, tiny_campaign, tiny_members, tiny_world


def relay_world(free: tuple[int, ...] = ()) -> World:
    return tiny_world(tiny_campaign(RELAY, 3), tiny_members(3, self_defence=True, free=free))


def test_oracle_blocks_everything_after_the_first_firing() -> None:
    world = relay_world()
    limit = oracle(world)
    assert caught_at(world).tolist() == [10.0]
    assert (limit.attacks_absorbed, limit.attacks_blocked) == (2, 14)
    assert (limit.false_bans, limit.false_ban_user_hours, limit.decisions) == (0, 0.0, 1)
    assert limit.protection_delay_p50_s == 10.0


def test_free_riders_detectors_count_for_the_oracle() -> None:
    """A free rider catches the attacker at 10 although it never reports."""
    limit = oracle(relay_world(free=(0,)))
    assert limit.attacks_absorbed == 2


@pytest.mark.parametrize(
    ("baseline", "treaty", "limit", "gain"),
    [
        pytest.param(6, 4, 2, 0.5, id="half"),
        pytest.param(6, 2, 2, 1.0, id="all-of-it"),
        pytest.param(6, 6, 2, 0.0, id="nothing"),
        pytest.param(6, 8, 2, -0.5, id="worse-than-alone"),
        pytest.param(2, 2, 2, None, id="nothing-to-gain"),
    ],
)
def test_gain_captured(baseline: int, treaty: int, limit: int, gain: float | None) -> None:
    assert gain_captured(baseline, treaty, limit) == gain


def test_relay_gain_of_each_treaty() -> None:
    world = relay_world()
    results = {
        "unilateral": played(world, "unilateral")[1],
        "nato-no-alert": played(world, "nato", alert__enabled=False)[1],
        "nato": played(world, "nato")[1],
    }
    gained = with_gain(results, oracle(world))
    assert {name: r.possible_gain_captured for name, r in gained.items()} == {
        "unilateral": 0.0,
        "nato-no-alert": 0.5,
        "nato": 0.75,
    }


def test_no_gain_without_a_unilateral_row() -> None:
    world = relay_world()
    results = {"nato": played(world, "nato")[1]}
    assert with_gain(results, oracle(world))["nato"].possible_gain_captured is None


def test_reference_row_in_json_table_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    args = ["exercise", "--compare", "unilateral,nato", "--no-headline", "--json", str(out)]
    assert main([*args, *[a for a in SMALL if a != "--quiet"]]) == 0
    doc = json.loads(out.read_text())
    limit = doc["reference"]["oracle"]
    assert set(limit) == set(doc["treaties"]["nato"])
    uni, nato = doc["treaties"]["unilateral"], doc["treaties"]["nato"]
    assert limit["attacks_absorbed"] <= nato["attacks_absorbed"]
    expected = (uni["attacks_absorbed"] - nato["attacks_absorbed"]) / (
        uni["attacks_absorbed"] - limit["attacks_absorbed"]
    )
    assert nato["possible_gain_captured"] == pytest.approx(expected, abs=1e-4)
    assert "oracle" in capsys.readouterr().out
    page = render(doc)
    assert "share of possible gain captured" in page
    assert page.count("<td>oracle</td>") == 4  # outcomes and costs, with and without self-defence


def test_tradeoff_plot_over_an_alert_sweep(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = ["exercise", *SMALL, "--compare", "unilateral,nato", "--json", str(out)]
    assert main([*args, "--sweep", "alert_maxretry=1..3"]) == 0
    doc = json.loads(out.read_text())
    (sweep,) = doc["sweeps"]
    assert sweep["parameter"] == "alert_maxretry" and len(sweep["treaties"]["nato"]) == 3
    page = render(doc)
    assert 'id="tradeoff-alert"' in page and "missing-tradeoff" not in page
    chart = page[page.find('id="tradeoff-alert"') :]
    assert 'data-series="oracle"' in chart.split("</svg>")[0]
    doc["sweeps"] = []
    assert "missing-tradeoff" in render(doc)
