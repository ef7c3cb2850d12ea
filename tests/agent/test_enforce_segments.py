"""Overlapping ranges become disjoint segments with the latest expiry."""

from __future__ import annotations

import random

import pytest

from shieldwall.agent.enforce.segments import Segment, Segments, segment


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        pytest.param([], [], id="empty"),
        pytest.param([(0, 9, 5.0)], [(0, 9, 5.0)], id="one"),
        pytest.param([(0, 9, 5.0), (20, 29, 5.0)], [(0, 9, 5.0), (20, 29, 5.0)], id="disjoint"),
        pytest.param(
            [(0, 99, 10.0), (40, 49, 50.0)],
            [(0, 39, 10.0), (40, 49, 50.0), (50, 99, 10.0)],
            id="inner-lasts-longer-splits-outer",
        ),
        pytest.param([(0, 99, 50.0), (40, 49, 10.0)], [(0, 99, 50.0)], id="inner-shorter-absorbed"),
        pytest.param([(0, 9, 5.0), (10, 19, 5.0)], [(0, 19, 5.0)], id="adjacent-same-expiry-merge"),
        pytest.param(
            [(0, 9, 5.0), (10, 19, 6.0)], [(0, 9, 5.0), (10, 19, 6.0)], id="adjacent-differ"
        ),
        pytest.param(
            [(0, 9, 5.0), (5, 14, 7.0)], [(0, 4, 5.0), (5, 14, 7.0)], id="partial-overlap"
        ),
        pytest.param([(3, 3, 1.0), (3, 3, 2.0)], [(3, 3, 2.0)], id="duplicate-keeps-latest"),
    ],
)
def test_segment(ranges: list[Segment], expected: list[Segment]) -> None:
    assert segment(ranges) == expected


def brute(ranges: dict[tuple[int, int], float], size: int) -> dict[int, float]:
    cover: dict[int, float] = {}
    for (a, b), e in ranges.items():
        for x in range(a, b + 1):
            cover[x] = max(cover.get(x, 0.0), e)
    return cover


def expand(segments: list[Segment]) -> dict[int, float]:
    out: dict[int, float] = {}
    for a, b, e in segments:
        for x in range(a, b + 1):
            assert x not in out, "segments overlap"
            out[x] = e
    return out


@pytest.mark.parametrize("seed", range(20))
def test_incremental_commits_match_full_recompute(seed: int) -> None:
    rng = random.Random(seed)
    model = Segments()
    held: dict[tuple[int, int], float] = {}
    loaded: set[Segment] = set()
    for _ in range(60):
        a = rng.randrange(0, 200)
        b = a + rng.choice([0, 0, 3, 15, 63])
        if held and rng.random() < 0.3:
            key = rng.choice(sorted(held))
            del held[key]
            model.set(*key, None)
        else:
            held[(a, b)] = float(rng.randrange(1, 5))
            model.set(a, b, held[(a, b)])
        removed, added = model.commit()
        assert set(removed) <= loaded, "only loaded segments are deleted"
        loaded -= set(removed)
        assert not loaded & set(added), "nothing is added twice"
        loaded |= set(added)
        assert sorted(loaded) == model.segments
        assert expand(model.segments) == brute(held, 300)


def test_load_replaces_everything() -> None:
    model = Segments()
    model.set(0, 9, 1.0)
    model.commit()
    assert model.load({(100, 109): 2.0}) == [(100, 109, 2.0)]
    model.set(105, 105, 9.0)
    removed, added = model.commit()
    assert removed == [(100, 109, 2.0)]
    assert added == [(100, 104, 2.0), (105, 105, 9.0), (106, 109, 2.0)]
