"""The garbage collector's pace while logs are read in bulk."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shieldwall.agent.gc_pace import YOUNG, pace_for_logs


@pytest.fixture(autouse=True)
def _restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_young_collections_come_every_so_many_containers() -> None:
    gc.set_threshold(700, 10, 10)
    pace_for_logs()
    assert gc.get_threshold() == (YOUNG, 10, 10)


def test_a_slower_pace_or_none_is_kept() -> None:
    gc.set_threshold(YOUNG * 5, 3, 4)
    pace_for_logs()
    assert gc.get_threshold() == (YOUNG * 5, 3, 4)
    gc.set_threshold(0, 10, 10)  # collection off
    pace_for_logs()
    assert gc.get_threshold() == (0, 10, 10)
