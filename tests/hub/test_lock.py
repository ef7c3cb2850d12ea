"""One hub per data directory: the lock file taken before the store is opened."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shieldwall.hub.lock import LOCK_NAME, lock_data_dir


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    first = lock_data_dir(tmp_path)
    try:
        with pytest.raises(ValueError) as caught:
            lock_data_dir(tmp_path)
        assert str(caught.value) == (
            f"data directory {str(tmp_path)!r} is in use by another hub (pid {os.getpid()}): "
            "stop that hub first, or give this one another --data"
        )
    finally:
        first.release()
    with lock_data_dir(tmp_path):  # released: free again; a stale file does not block
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"


def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a hub data directory: run 'shieldwall hub init"):
        lock_data_dir(tmp_path / "absent")
