"""Amending the treaty: later inputs follow the new text; what was decided stays."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from shieldwall.core.treaty import ProtectedRange

from .helpers import ATTACKER, council, report, treaty


def test_quorum_and_citation_follow_the_amendment() -> None:
    c = council("nato", members=3)
    report(c, "m0", 10.0, "198.51.100.1")
    [before] = report(c, "m1", 11.0, "198.51.100.1").decisions
    outcome = c.amend(treaty("nato", version=2, quorum=3), 20.0)
    assert outcome.notices == ("treaty amended from nato@1 to nato@2",)
    report(c, "m0", 30.0)
    assert report(c, "m1", 31.0).decisions == ()
    [after] = report(c, "m2", 32.0).decisions
    assert (before.treaty, after.treaty) == ("nato@1", "nato@2")
    assert c.decision(before.id) == before, "decisions already taken stay as they were"
    assert [(at, t.label) for at, t in c.history] == [(None, "nato@1"), (20.0, "nato@2")]


def test_a_range_protected_by_the_amendment_is_protected_from_then_on() -> None:
    c = council("nato", members=2)
    old = treaty("nato")
    shield = ProtectedRange("203.0.113.0/24", "partner network")
    amended = replace(
        old, version=2, protected=replace(old.protected, ranges=(*old.protected.ranges, shield))
    )
    c.amend(amended, 5.0)
    report(c, "m0", 10.0)
    outcome = report(c, "m1", 11.0)
    assert outcome.decisions == ()
    assert [d.target for d in outcome.disputes] == [ATTACKER]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"version": 1}, "set version = 2 in [treaty]", id="same-version"),
        pytest.param({"version": 2, "name": "other"}, "keep name = 'nato'", id="renamed"),
    ],
)
def test_refused_amendments_leave_the_council_as_it_was(
    changes: dict[str, object], message: str
) -> None:
    c = council("nato", members=2)
    with pytest.raises(ValueError, match=re.escape(message)):
        c.amend(treaty("nato", **changes), 5.0)
    assert c.treaty.label == "nato@1" and len(c.history) == 1


def test_a_veto_that_permanent_members_hold_cannot_be_amended_away() -> None:
    c = council("un", members=0)
    c.apply("p1", ["10.0.0.1"], 0.0, permanent=True)
    old = c.treaty
    without = replace(old, version=old.version + 1, veto=replace(old.veto, enabled=False))
    with pytest.raises(ValueError, match="removes the veto that permanent member"):
        c.amend(without, 1.0)
    assert c.treaty is old


def test_the_correlation_window_follows_the_amendment() -> None:
    c = council("nato")
    before = c.state.correlation.window
    c.amend(treaty("nato", version=2, correlation__window=before * 2), 20.0)
    assert c.state.correlation.window == before * 2
