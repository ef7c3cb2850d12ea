"""Virtual members: detectors, roles and rogue plots."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.exercise import members as mmod
from tests.exercise.helpers import tiny_campaign, tiny_members


@pytest.mark.parametrize(
    ("times", "maxretry", "fires"),
    [
        pytest.param([0, 10, 20, 30, 40], 5, [40.0], id="five-in-window-fires-on-fifth"),
        pytest.param([0, 200, 400, 700], 3, [400.0], id="third-within-findtime"),
        pytest.param([0, 400, 800, 1200], 3, [], id="spread-beyond-findtime"),
        pytest.param([0, 1, 2, 3, 700, 701], 2, [1.0, 701.0], id="refires-after-findtime"),
        pytest.param([0, 1, 2, 3, 4, 5], 2, [1.0], id="one-report-per-findtime"),
    ],
)
def test_detector_fires_like_fail2ban(
    times: list[float], maxretry: int, fires: list[float]
) -> None:
    c = tiny_campaign([(0, 0, times)], 1)
    m = tiny_members(1, maxretry=maxretry)
    d = mmod.detect(c, m)
    assert d.time.tolist() == fires


def test_free_riders_never_report() -> None:
    c = tiny_campaign([(0, 0, [0, 1, 2]), (0, 1, [0, 1, 2])], 2)
    d = mmod.detect(c, tiny_members(2, free=(1,)))
    assert c.pair_member[d.pair].tolist() == [0]


def test_roles_are_disjoint_and_sized() -> None:
    m = mmod.build(mmod.MemberParams(rogue=3, free_rider_share=0.2), 50, 4, 86_400.0)
    assert int(m.rogue.sum()) == 3
    assert int(m.free_rider.sum()) == 10
    assert not (m.rogue & m.free_rider).any()
    assert set(np.unique(m.maxretry).tolist()) <= {3, 5, 10}


@pytest.mark.parametrize(
    ("collude", "reports", "distinct"),
    [pytest.param(False, 3 * 4, 3 * 4, id="alone"), pytest.param(True, 3 * 4, 4, id="colluding")],
)
def test_rogue_reports(collude: bool, reports: int, distinct: int) -> None:
    from shieldwall.exercise import campaign as cmod

    p = cmod.CampaignParams(events=5000, sources=100, rogue_reports=4, rogue_member_reports=0)
    c = cmod.generate(p, 20, 1, rogues=3, collude=collude)
    m = mmod.build(mmod.MemberParams(rogue=3, collude=collude), 20, 1, p.duration_s)
    r = mmod.rogue_reports(c, m, 1)
    assert r.time.size == reports
    assert np.unique(r.innocent).size == distinct == c.innocent_addr.size
    assert set(r.member.tolist()) == set(np.flatnonzero(m.rogue).tolist())


@pytest.mark.parametrize(
    ("collude", "accusations", "distinct_max"),
    [
        pytest.param(False, 3 * 2, 3 * 2, id="alone"),
        pytest.param(True, 3 * 2, 2, id="colluding-accuse-the-same-members"),
    ],
)
def test_rogues_accuse_honest_members(collude: bool, accusations: int, distinct_max: int) -> None:
    from shieldwall.exercise import campaign as cmod

    p = cmod.CampaignParams(events=5000, sources=100, rogue_reports=4, rogue_member_reports=2)
    c = cmod.generate(p, 20, 1, rogues=3, collude=collude)
    m = mmod.build(mmod.MemberParams(rogue=3, collude=collude), 20, 1, p.duration_s)
    r = mmod.rogue_reports(c, m, 1)
    assert r.accused is not None
    accusing = r.innocent < 0
    assert int(accusing.sum()) == accusations
    assert (r.accused[accusing] >= 0).all() and (r.accused[~accusing] == -1).all()
    assert not m.rogue[r.accused[accusing]].any()  # rogues accuse honest members
    assert np.unique(r.accused[accusing]).size <= distinct_max
    assert (np.diff(r.time) >= 0).all()
    assert mmod.member_address(3) == "81.0.3.10"
    assert m.networks[3] == "81.0.3.0/24"


def test_too_many_rogues_is_refused() -> None:
    with pytest.raises(ValueError, match="rogue=9 exceeds the 5 members: give at most 5"):
        mmod.build(mmod.MemberParams(rogue=9), 5, 1, 10.0)
