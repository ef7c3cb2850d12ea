"""One hub per data directory: an exclusive lock file, held while the hub runs.

The lock is taken before the store is opened or replayed, so a second ``hub serve``
on the same directory stops at once, naming the directory and the holder's pid,
instead of replaying the records and then failing to listen. The kernel drops the
lock when the holder exits, however it exits; a stale file is harmless.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_NAME = "hub.lock"


class DataLock:
    """The held lock on one data directory; :meth:`release` (or exit) lets it go."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DataLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_data_dir(data_dir: Path) -> DataLock:
    """Lock ``data_dir`` for this process; ValueError naming the holder if it is taken."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(
            f"{str(data_dir)!r} is not a hub data directory: "
            "run 'shieldwall hub init --data DIR --template nato' first"
        )
    path = data_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ValueError(
            f"cannot create the lock file {str(path)!r} ({exc.strerror}): "
            "run the hub as the user that owns its data directory"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = _holder(fd)
        os.close(fd)
        raise ValueError(
            f"data directory {str(data_dir)!r} is in use by another hub (pid {holder}): "
            "stop that hub first, or give this one another --data"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataLock(path, fd)


def _holder(fd: int) -> str:
    with contextlib.suppress(OSError, ValueError):
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        if text.isdigit():
            return text
    return "unknown"
