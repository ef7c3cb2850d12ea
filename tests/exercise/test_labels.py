"""Words of the exercise report: parameters with units, columns worth showing, narrow tables."""

from __future__ import annotations

from typing import Any

import pytest

from shieldwall.cli import main
from shieldwall.exercise import labels
from tests.exercise.helpers import SMALL


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        pytest.param("duration_s", 86_400.0, ("campaign length", "1 d"), id="days"),
        pytest.param("outage_s", 7_200.0, ("length of an outage", "2 h"), id="hours"),
        pytest.param(
            "spread_mean_s",
            180.0,
            ("mean time for an attacker to move to the next network", "3 min"),
            id="minutes",
        ),
        pytest.param("delay_median_s", 0.25, ("median link delay to the hub", "0.25 s"), id="s"),
        pytest.param("free_rider_share", 0.1, ("free riders (never report)", "10 %"), id="share"),
        pytest.param("collude", True, ("rogue members collude", "yes"), id="bool"),
        pytest.param("events", 100_000, ("attack events in the campaign", "100,000"), id="count"),
        pytest.param("new_knob_s", 90.0, ("new knob s", "90 s"), id="unknown-duration"),
    ],
)
def test_parameters_read_as_words_with_units(key: str, value: Any, shown: tuple[str, str]) -> None:
    assert labels.parameter(key, value) == shown


@pytest.mark.parametrize(
    ("values", "kept", "note"),
    [
        pytest.param([1, 2], True, None, id="differs"),
        pytest.param([None, None], False, "not reached by any treaty", id="never-reached"),
        pytest.param([0, 0], False, "0 for every treaty", id="same-everywhere"),
        pytest.param([None, 5], True, None, id="reached-by-one"),
    ],
)
def test_columns_without_information_are_left_out_and_said(
    values: list[Any], kept: bool, note: str | None
) -> None:
    rows = [{"x": v} for v in values]
    columns, notes = labels.informative([("x", "the x")], rows)
    assert (columns == [("x", "the x")]) is kept
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and notes[0].startswith("the x: ") and note in notes[0]


def test_terminal_tables_fit_100_columns(capsys: pytest.CaptureFixture[str]) -> None:
    args = [a for a in SMALL if a != "--quiet"]
    assert main(["exercise", *args, "--compare", "unilateral,nato,anzus,un,league"]) == 0
    out = capsys.readouterr().out
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= 100, max(widths)
    for name in ("unilateral", "nato", "anzus", "un", "league", "oracle"):
        assert f"│ {name} " in out
