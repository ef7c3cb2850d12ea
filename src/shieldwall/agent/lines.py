"""Cutting a byte stream into whole lines, and replaying an old log file as chunks of them.

What the detection engines eat is *bytes chunks of complete lines*: a partial last line
is held back until its newline arrives. This module has no asyncio in it, so a one-shot
replay (``shieldwall agent replay``) starts without loading the daemon's sources
(:mod:`shieldwall.agent.sources`).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

CHUNK = 1 << 20
MAX_LINE = 1 << 16  # a "line" longer than this is cut: hostile input cannot grow memory


class LineCutter:
    """Cuts a stream of bytes into whole lines, holding a partial last line.

    A partial line that grows past ``limit`` never grows memory: it is cut there
    (``keep_cut``: passed on as a line of its own) or dropped, and the rest of it, up
    to its newline, is skipped, so its tail never passes for a line of its own. A line
    that arrives complete in one piece is passed on whole, however long (the piece
    bounds it); a reader that needs a tighter bound checks it (``JournalSource``).
    """

    __slots__ = ("dropped", "held", "keep_cut", "limit", "skipping")

    def __init__(self, limit: int = MAX_LINE, keep_cut: bool = True) -> None:
        self.limit = limit
        self.keep_cut = keep_cut
        self.held = b""  # a partial last line, waiting for its newline
        self.skipping = False  # inside the rest of an over-long line
        self.dropped = 0  # over-long lines dropped (keep_cut=False)

    def feed(self, data: bytes) -> bytes:
        """The complete lines ``data`` finishes, each with its newline (b"" if none)."""
        if not data:
            return b""
        if self.skipping:
            newline = data.find(b"\n")
            if newline < 0:
                return b""
            data, self.skipping = data[newline + 1 :], False
        cut = data.rfind(b"\n") + 1
        if cut:  # the held partial line has no line break: the lines end in ``data``
            held, self.held = self.held, data[cut:]
            if not held:
                return data if cut == len(data) else data[:cut]
            # one copy of the lines (``held + data[:cut]`` would copy them twice)
            return b"".join((held, memoryview(data)[:cut]))
        data = self.held + data  # no line break yet: the partial line grows
        if len(data) > self.limit:
            self.held, self.skipping = b"", True
            if self.keep_cut:
                return data[: self.limit] + b"\n"
            self.dropped += 1
            return b""
        self.held = data
        return b""

    def flush(self) -> bytes:
        """The held partial line as a complete one (the stream ended)."""
        held, self.held = self.held, b""
        return held + b"\n" if held else b""

    def reset(self) -> None:
        self.held, self.skipping = b"", False


def replay_chunks(path: Path | str, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """Chunks of complete lines from an existing file (gzip when it ends in .gz).

    A line longer than :data:`MAX_LINE` that does not end within one read (as none
    longer than ``chunk_size`` does) is cut there and the rest of it, up to its newline,
    is skipped: it still counts as one line, and its tail never passes for a line of
    its own.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    lines = LineCutter()
    with opener(path, "rb") as fh:
        while True:
            data = fh.read(chunk_size)
            if not data:
                break
            chunk = lines.feed(data)
            if chunk:
                yield chunk
        rest = lines.flush()
        if rest:
            yield rest
