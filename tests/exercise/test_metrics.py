"""Each metric on numbers small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from shieldwall.exercise import metrics as mx


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        pytest.param([4.0, 1.0, 3.0, 2.0], 50, 2.0, id="median-nearest-rank"),
        pytest.param([4.0, 1.0, 3.0, 2.0], 95, 4.0, id="p95-largest"),
        pytest.param([1.0, math.inf, math.inf], 50, None, id="median-never"),
        pytest.param([1.0, 2.0, math.inf], 50, 2.0, id="median-before-never"),
        pytest.param([], 50, None, id="empty"),
    ],
)
def test_percentile(values: list[float], q: float, expected: float | None) -> None:
    assert mx.percentile(np.array(values), q) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([5, 5, 5, 5], 0.0, id="equal-shares"),
        pytest.param([0, 0, 0, 1], 0.75, id="one-does-all"),
        pytest.param([1, 3], 0.25, id="one-to-three"),
        pytest.param([0, 0], 0.0, id="nobody"),
    ],
)
def test_gini(values: list[float], expected: float) -> None:
    assert mx.gini(np.array(values, dtype=float)) == pytest.approx(expected)


def test_shares_sum_to_one() -> None:
    assert mx.shares(np.array([1.0, 3.0])).tolist() == [0.25, 0.75]
    assert mx.shares(np.array([0.0, 0.0])).tolist() == [0.0, 0.0]


def test_protection_delays_count_only_detected_and_never_go_negative() -> None:
    first = np.array([10.0, 20.0, 30.0, 40.0])
    done = np.array([70.0, 5.0, math.inf, 100.0])
    detected = np.array([True, True, True, False])
    assert mx.protection_delays(first, done, detected).tolist() == [60.0, 0.0, math.inf]


def test_cumulative() -> None:
    t, counts = mx.cumulative(np.array([0.5, 1.5, 1.6, 3.9]), 4.0, bins=4)
    assert t == [1.0, 2.0, 3.0, 4.0]
    assert counts == [1, 3, 3, 4]


def test_protection_rate() -> None:
    blocked = np.array([True, False, True, True])
    member = np.array([0, 0, 1, 1])
    assert mx.protection_rate(blocked, member, np.array([True, False])) == 0.5
    assert mx.protection_rate(blocked, member, np.array([False, True])) == 1.0
    assert mx.protection_rate(blocked, member, np.array([False, False])) == 0.0


def test_false_ban_summary_by_hand() -> None:
    bans = [
        mx.FalseBan("91.0.0.7", users=5, issued_at=0.0, ended_at=7200.0, rogue=True),
        mx.FalseBan("23.0.0.1", users=50, issued_at=100.0, ended_at=1900.0, rogue=False),
    ]
    assert mx.false_ban_summary(bans) == {
        "false_bans": 2,
        "false_ban_hours": 2.5,
        "false_ban_user_hours": 5 * 2 + 50 * 0.5,
        "rogue_false_bans": 1,
        "rogue_user_hours": 10.0,
    }
