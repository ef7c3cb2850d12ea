"""Who sees the attacker next: co-occurrence over a sliding window, and alerts citing it."""

from __future__ import annotations

import pytest

from shieldwall.core import correlation as cmod
from shieldwall.core.correlation import Correlation
from tests.core.helpers import council, report

HOUR, DAY = 3600.0, 86400.0


def learnt(reports: list[tuple[str, str, float]], window: float = DAY) -> Correlation:
    c = Correlation(window)
    for member, target, at in reports:
        c.note(member, target, at)
    return c


@pytest.mark.parametrize(
    ("reports", "pair", "shared"),
    [
        pytest.param([("a", "t1", 0.0), ("b", "t1", 10.0)], ("a", "b"), 1, id="one-target"),
        pytest.param(
            [("a", "t1", 0.0), ("b", "t1", 10.0), ("a", "t2", 20.0), ("b", "t2", 30.0)],
            ("b", "a"),
            2,
            id="two-targets-symmetric",
        ),
        pytest.param(
            [("a", "t1", 0.0), ("b", "t1", 10.0), ("b", "t1", 20.0), ("a", "t1", 30.0)],
            ("a", "b"),
            1,
            id="repeated-reports-count-once",
        ),
        pytest.param([("a", "t1", 0.0), ("b", "t1", DAY + 1)], ("a", "b"), 0, id="too-far-apart"),
        pytest.param(
            [("a", "t1", 0.0), ("b", "t1", 10.0), ("c", "t9", DAY + 11)],
            ("a", "b"),
            0,
            id="forgotten-after-the-window",
        ),
        pytest.param([("a", "t1", 0.0), ("b", "t2", 10.0)], ("a", "b"), 0, id="other-targets"),
    ],
)
def test_co_occurrence(
    reports: list[tuple[str, str, float]], pair: tuple[str, str], shared: int
) -> None:
    assert learnt(reports).shared(*pair) == shared


def test_nearest_ranks_by_co_occurrence_then_name() -> None:
    reports = [("a", f"t{i}", float(i)) for i in range(4)]
    reports += [("c", f"t{i}", 10.0 + i) for i in range(3)]  # c shares 3 with a
    reports += [("b", f"t{i}", 20.0 + i) for i in range(2)]  # b shares 2 with a and c
    reports += [("d", "t3", 30.0)]  # d shares 1 with a
    c = learnt(reports)
    assert c.nearest("a", 5) == ("c", "b", "d")
    assert c.nearest("a", 2) == ("c", "b")
    assert c.nearest("a", 5, min_shared=2) == ("c", "b")
    assert c.nearest("nobody", 5) == ()


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmod, "MAX_PAIRS", 3)
    monkeypatch.setattr(cmod, "MAX_TARGETS", 2)
    c = learnt([(m, f"t{i}", float(i)) for i in range(5) for m in ("a", "b")])
    assert len(c.pairs) == 3 and c.shared("a", "b") == 3
    assert list(c.seen) == ["t3", "t4"]


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError) as err:
        Correlation(0.0)
    assert "correlation window 0.0 must be above 0 seconds" in str(err.value)


def test_alert_names_the_reporters_most_correlated_members() -> None:
    """m0 and m1 reported the same two attackers: m0's next alert names m1 (clause
    alert.correlated); m1 applies maxretry 1, everyone else the treaty's 3."""
    c = council(
        "nato",
        members=4,
        quorum=3,
        correlation__enabled=True,
        correlation__min_shared=2,
        correlation__others_maxretry=3,
    )
    for i, target in enumerate(("198.51.100.1", "198.51.100.2")):
        report(c, "m0", 10.0 * i, target)
        report(c, "m1", 10.0 * i + 1, target)
    (a,) = report(c, "m0", 100.0, "198.51.100.3").alerts
    assert (a.clause, a.correlated, a.maxretry, a.others_maxretry) == (
        "alert.correlated",
        ("m1",),
        1,
        3,
    )
    (b,) = report(c, "m2", 110.0, "198.51.100.4").alerts  # m2 shares nothing: plain
    assert (b.clause, b.correlated, b.others_maxretry) == ("alert", (), 1)


def test_without_correlation_alerts_name_nobody() -> None:
    c = council("nato")
    report(c, "m0", 0.0, "198.51.100.1")
    report(c, "m1", 1.0, "198.51.100.1")
    (a,) = report(c, "m0", 100.0, "198.51.100.3").alerts
    assert (a.clause, a.correlated) == ("alert", ())
