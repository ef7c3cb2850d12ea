"""Waiting in tests: on a condition, with a generous deadline for a loaded machine;
never a fixed sleep followed by an assertion, and never a timing assert."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def _failed(what: str, show: Callable[[], object] | None) -> AssertionError:
    seen = f"; last seen: {show()}" if show is not None else ""
    return AssertionError(f"timed out waiting for {what}{seen}")


async def until(
    check: Callable[[], bool],
    limit: float = 30.0,
    what: str = "the condition",
    show: Callable[[], object] | None = None,
) -> None:
    """Return once ``check()`` holds (polled on the event loop); fail after ``limit`` s."""
    deadline = asyncio.get_running_loop().time() + limit
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise _failed(what, show)
        await asyncio.sleep(0.01)


def wait(
    check: Callable[[], bool],
    limit: float = 30.0,
    what: str = "the condition",
    show: Callable[[], object] | None = None,
    poll: float = 0.05,
) -> None:
    """``until`` for code outside an event loop."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise _failed(what, show)
        time.sleep(poll)
