"""Following one log source (a file or the journal) and handing its new lines on.

A follower remembers where it is through the outbox (``position:LABEL`` for a file,
``cursor:LABEL`` for the journal), saved together with the signals of the same lines,
so a restart neither skips nor repeats them. What becomes of the lines is the
caller's ``detected(chunk, positions)``; what happens to the source (missing,
appeared, journalctl ended) goes to ``emit``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from shieldwall.agent.config import SourceConfig
from shieldwall.agent.sender import Backoff
from shieldwall.agent.sources import FileFollower, JournalSource, Position

Detected = Callable[[bytes, dict[str, Any]], Awaitable[None]]
Saved = Callable[[str], Any]  # the outbox's get_json
Emit = Callable[..., None]


async def follow_file(
    source: SourceConfig,
    saved: Saved,
    emit: Emit,
    detected: Detected,
    *,
    from_start: bool,
    poll: float,
) -> None:
    """Follow ``source.path`` for ever, from its saved position if there is one."""
    if source.path is None:
        raise ValueError(f"source {source.label!r} has no path to follow")
    key = f"position:{source.label}"
    stored = saved(key)
    position = Position(*stored) if isinstance(stored, list) and len(stored) == 2 else None
    follower = FileFollower(source.path, from_start=from_start, position=position)
    missing = not follower.opened
    if missing:  # named once now, and again when it appears; never silently followed
        emit("source_missing", source=source.label, path=str(source.path))
    try:
        while True:
            chunk = await asyncio.to_thread(follower.poll)
            if missing and follower.opened:
                missing = False
                emit("source_appeared", source=source.label, path=str(source.path))
            if chunk:
                pos = follower.position
                await detected(chunk, {key: [pos.inode, pos.offset]})
            else:
                await asyncio.sleep(poll)
    finally:
        follower.close()


async def follow_journal(
    source: SourceConfig, saved: Saved, emit: Emit, detected: Detected
) -> None:
    """Follow the journal for ``source.journald``; journalctl is started again if it ends."""
    key = f"cursor:{source.label}"
    cursor = saved(key)
    journal = JournalSource(
        source.journald or (),
        cursor=cursor if isinstance(cursor, str) else None,
        lines=None if source.from_start else 0,
    )
    backoff = Backoff(1.0, 30.0)
    while True:
        try:
            async for batch in journal.batches():
                chunk = b"".join(entry.syslog_line() for entry in batch)
                await detected(chunk, {key: journal.cursor})
        except FileNotFoundError as exc:
            emit("source_error", source=source.label, error=str(exc))
            return
        emit(
            "source_error",
            source=source.label,
            error=f"journalctl ended with status {journal.returncode}; starting it again",
        )
        await asyncio.sleep(backoff.next())
