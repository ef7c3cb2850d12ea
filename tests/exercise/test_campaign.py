"""The campaign generator reproduces the statistics it claims, deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import members as mmod

# Stated tolerance: shares within 0.02 absolute (10% of the 20% figure) of the
# parameters; the multi-network event share stays above Katti et al.'s 40%.
SHARE_TOL = 0.02


@pytest.mark.parametrize(
    ("members", "events", "sources", "seed"),
    [
        pytest.param(200, 100_000, 2_000, 7, id="default-200"),
        pytest.param(50, 20_000, 500, 1, id="small-alliance"),
        pytest.param(1000, 300_000, 6_000, 42, id="large-alliance"),
    ],
)
def test_generator_reproduces_katti_split(
    members: int, events: int, sources: int, seed: int
) -> None:
    params = cmod.CampaignParams(events=events, sources=sources)
    c = cmod.generate(params, members, seed)
    s = cmod.stats(c)
    assert s.events == events
    assert s.sources == sources
    assert abs(s.multi_source_share - 0.20) <= SHARE_TOL
    assert s.multi_event_share > 0.40
    assert abs(s.multi_event_share - params.multi_event_share) <= SHARE_TOL
    # "within a few minutes": median delay to the next network between 1 and 10 minutes.
    assert 60.0 <= s.spread_median_s <= 600.0


def test_multi_network_attackers_stay_in_their_correlation_group() -> None:
    params = cmod.CampaignParams(cross_group_share=0.0)
    c = cmod.generate(params, 200, 3)
    groups_per_source: dict[int, set[int]] = {}
    for s, m in zip(c.pair_source.tolist(), c.pair_member.tolist(), strict=True):
        groups_per_source.setdefault(s, set()).add(int(c.groups[m]))
    assert all(len(g) == 1 for g in groups_per_source.values())
    sizes = np.bincount(c.groups)
    assert sizes.min() >= params.group_min
    assert sizes.max() <= params.group_max + params.group_min  # the last group may absorb a rest


def test_attacker_kinds_have_their_stated_shape() -> None:
    """Targeted and opportunistic attackers hit one member; low-and-slow ones send
    ``low_slow_events`` per member; about ``cross_group_share`` of the multi-network
    attackers also reach one member outside their group (within 0.03 absolute)."""
    p = cmod.CampaignParams()
    c = cmod.generate(p, 200, 7)
    victims = np.bincount(c.pair_source, minlength=p.sources)
    single = np.isin(c.src_kind, [cmod.TARGETED, cmod.OPPORTUNISTIC])
    assert (victims[single] == 1).all() and (victims[~single] >= 2).all()
    assert (c.src_kind == cmod.TARGETED).sum() == round(p.sources * p.targeted_share)
    slow_pairs = c.src_kind[c.pair_source] == cmod.LOW_SLOW
    assert (c.pair_count[slow_pairs] == p.low_slow_events).all()
    n_groups = int(c.groups.max()) + 1
    combos = np.unique(c.pair_source * n_groups + c.groups[c.pair_member])
    groups_hit = np.bincount(combos // n_groups, minlength=p.sources)
    assert abs((groups_hit[~single] >= 2).mean() - p.cross_group_share) <= 0.03


def test_low_and_slow_attackers_stay_under_every_detector() -> None:
    c = cmod.generate(cmod.CampaignParams(), 200, 11)
    m = mmod.build(mmod.MemberParams(free_rider_share=0.0), 200, 11, 86_400.0)
    d = mmod.detect(c, m)
    fired = c.src_kind[c.pair_source[d.pair]]
    assert (c.src_kind == cmod.LOW_SLOW).sum() > 0
    assert not (fired == cmod.LOW_SLOW).any()
    assert (fired == cmod.TARGETED).any()


def test_nat_addresses_carry_benign_users() -> None:
    c = cmod.generate(cmod.CampaignParams(nat_share=0.5, nat_users=40), 100, 5)
    nat = c.src_users > 0
    assert 0.4 < nat.mean() < 0.6
    assert 30 < c.src_users[nat].mean() < 50
    assert (c.src_host[nat] >= 0).all() and (c.src_host[~nat] == -1).all()


def test_same_seed_same_campaign_other_seed_differs() -> None:
    p = cmod.CampaignParams(events=20_000, sources=400)
    a, b, other = (cmod.generate(p, 80, s) for s in (9, 9, 10))
    for name in ("ev_time", "ev_pair", "pair_source", "pair_member", "src_kind", "src_users"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert not np.array_equal(a.ev_time, other.ev_time)


def test_attackers_get_distinct_slash24s() -> None:
    addr = cmod.source_address(np.arange(5000, dtype=np.int64))
    assert np.unique(addr >> 8).size == 5000
    assert cmod.address_text(int(addr[0])) == "23.0.0.1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"multi_source_share": 1.5},
            "multi_source_share=1.5 is out of range",
            id="share-above-one",
        ),
        pytest.param({"events": 0}, "events=0 is out of range", id="no-events"),
        pytest.param(
            {"group_min": 5, "group_max": 4}, "group_max=4 is out of range", id="groups-inverted"
        ),
        pytest.param(
            {"low_slow_share": 0.3},
            "low_slow_share 0.3 exceeds multi_source_share",
            id="low-slow-beyond-multi",
        ),
    ],
)
def test_bad_parameters_name_value_and_fix(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cmod.CampaignParams(**kwargs)  # type: ignore[arg-type]


def test_too_few_events_for_sources_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="events=100 is too few for 2000 sources: give at least"):
        cmod.generate(cmod.CampaignParams(events=100), 50, 1)


def test_coerce_rejects_unknown_and_malformed_parameters() -> None:
    assert cmod.coerce(cmod.CampaignParams, {"events": "10", "nat_share": "0.5"}) == {
        "events": 10,
        "nat_share": 0.5,
    }
    with pytest.raises(ValueError, match="unknown parameter 'evnets'"):
        cmod.coerce(cmod.CampaignParams, {"evnets": "1"})
    with pytest.raises(ValueError, match="parameter events='ten' is not a valid int"):
        cmod.coerce(cmod.CampaignParams, {"events": "ten"})
