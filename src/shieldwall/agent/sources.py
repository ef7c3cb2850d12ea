"""Log sources: follow files as ``tail -F`` does, read journald (old files: :mod:`.lines`).

Sources yield *bytes chunks of complete lines*: that is what the detection engines
eat. A partial last line is held back until its newline arrives. A follower's
:class:`Position` (inode + offset) can be saved and handed back after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shieldwall.agent.lines import CHUNK, MAX_LINE, LineCutter
from shieldwall.agent.lines import replay_chunks as replay_chunks  # still importable here

MAX_JOURNAL_LINE = 4 * MAX_LINE  # one JSON entry of journalctl -o json
TAIL_CHECK = 64  # bytes compared at each poll to notice a truncated, rewritten file


@dataclass(frozen=True, slots=True)
class Position:
    """Where a follower is: resume with ``FileFollower(path, position=...)``."""

    inode: int
    offset: int


Sleep = Callable[[float], Awaitable[None]]


class FileFollower:
    """``tail -F`` for one path: survives rename rotation, copytruncate, late creation.

    ``poll()`` does one non-blocking step and returns the new complete lines (bytes);
    ``async for chunk in follower`` polls every ``poll_interval`` seconds.
    ``from_start`` reads an existing file from its beginning (default: from its end,
    as a daemon that starts on a busy log does); a saved ``position`` wins over both.

    Copytruncate is noticed when the file is shorter than what was read, and also when
    it has grown past that point again between two polls: the last bytes read are
    checked to still be there (:data:`TAIL_CHECK`). A line longer than
    :data:`MAX_LINE` that does not end within one read is cut there and the rest of it
    is skipped (see :class:`LineCutter`).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        poll_interval: float = 0.25,
        from_start: bool = False,
        position: Position | None = None,
        sleep: Sleep = asyncio.sleep,
        chunk_size: int = CHUNK,
    ) -> None:
        self.path = Path(path)
        self.poll_interval = poll_interval
        self._sleep = sleep
        self._chunk = chunk_size
        self._fh: int | None = None
        self._inode = -1
        self._offset = 0
        self._lines = LineCutter()
        self._tail = b""  # the last bytes read, which end at self._offset
        self._first_open = True
        self._from_start = from_start
        self._resume = position
        self.rotations = 0
        self.truncations = 0
        if not self._open():  # "the end" is where the log was when we started
            self._first_open = False  # a file that appears later is read whole

    @property
    def position(self) -> Position:
        """Offset of the first byte not yet returned (a held partial line is not counted)."""
        return Position(self._inode, self._offset - len(self._lines.held))

    @property
    def opened(self) -> bool:
        """Whether the file is open (False while it does not exist yet)."""
        return self._fh is not None

    def close(self) -> None:
        if self._fh is not None:
            os.close(self._fh)
            self._fh = None

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return False
        try:
            st = os.fstat(fd)
            start = self._place(st)
            tail = os.pread(fd, self._offset - start, start) if self._offset else b""
        except BaseException:
            os.close(fd)
            raise
        self._fh, self._inode = fd, st.st_ino
        self._lines.reset()
        self._tail = tail
        return True

    def _place(self, st: os.stat_result) -> int:
        """Set the offset to read from in a newly opened file; where its tail starts."""
        if self._first_open:
            self._first_open = False
            resume = self._resume
            if resume is not None and resume.inode == st.st_ino and resume.offset <= st.st_size:
                self._offset = resume.offset
            else:
                self._offset = 0 if self._from_start or resume is not None else st.st_size
        else:
            self._offset = 0  # a file that appeared or replaced the old one: read it all
        return max(0, self._offset - TAIL_CHECK)

    def _read_all(self) -> bytes:
        assert self._fh is not None
        parts = []
        total = 0
        while total < 16 * self._chunk:
            data = os.pread(self._fh, self._chunk, self._offset)
            if not data:
                break
            self._offset += len(data)
            total += len(data)
            parts.append(data)
        if not parts:
            return b""
        joined = b"".join(parts)
        self._tail = (self._tail + joined[-TAIL_CHECK:])[-TAIL_CHECK:]
        return joined

    def _rewritten(self, size: int) -> bool:
        """Whether the file was truncated (and maybe written again) since the last read."""
        if size < self._offset:
            return True
        tail = self._tail
        if not tail:
            return False
        assert self._fh is not None
        return os.pread(self._fh, len(tail), self._offset - len(tail)) != tail

    def poll(self) -> bytes:
        """New complete lines since the last call (b"" if none)."""
        if self._fh is None and not self._open():
            return b""
        assert self._fh is not None
        if self._rewritten(os.fstat(self._fh).st_size):  # copytruncate: emptied in place
            self.truncations += 1
            self._offset, self._tail = 0, b""
            self._lines.reset()
        data = self._read_all()
        try:
            replaced = os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:
            replaced = False  # renamed away and not yet recreated: keep reading the old one
        if not replaced:
            return self._lines.feed(data)
        # drain what was written before the rename; the old file's last line, even
        # without its newline, is complete now
        old = self._lines.feed(data + self._read_all()) + self._lines.flush()
        self.close()
        self.rotations += 1
        self._open()
        return old + self._lines.feed(self._read_all())

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._follow()

    async def _follow(self) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = self.poll()
                if chunk:
                    yield chunk
                else:
                    await self._sleep(self.poll_interval)
        finally:
            self.close()


@dataclass(frozen=True, slots=True)
class JournalEntry:
    message: str
    unit: str
    identifier: str
    pid: str
    time: float  # __REALTIME_TIMESTAMP in seconds
    cursor: str
    hostname: str

    def syslog_line(self) -> bytes:
        """The entry as a syslog line, so the same detectors read journald and files."""
        stamp = time.strftime("%b %d %H:%M:%S", time.localtime(self.time))
        ident = self.identifier or self.unit.removesuffix(".service") or "-"
        pid = f"[{self.pid}]" if self.pid else ""
        message = self.message.replace("\n", " ")
        return f"{stamp} {self.hostname or 'localhost'} {ident}{pid}: {message}\n".encode()


def parse_journal_json(line: bytes) -> JournalEntry | None:
    """One ``journalctl -o json`` line; None for anything that is not a usable entry."""
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    message = data.get("MESSAGE")
    if isinstance(message, list):  # journald sends non-UTF-8 messages as byte arrays
        try:
            message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode(
                "utf-8", "replace"
            )
        except ValueError:
            return None
    if not isinstance(message, str):
        return None
    try:
        when = int(data.get("__REALTIME_TIMESTAMP", "0")) / 1e6
    except (TypeError, ValueError):
        when = 0.0

    def text(key: str) -> str:
        value = data.get(key, "")
        return value if isinstance(value, str) else ""

    return JournalEntry(
        message=message[:MAX_LINE],
        unit=text("_SYSTEMD_UNIT"),
        identifier=text("SYSLOG_IDENTIFIER"),
        pid=text("_PID"),
        time=when,
        cursor=text("__CURSOR"),
        hostname=text("_HOSTNAME"),
    )


def journal_available(journalctl: str = "journalctl") -> bool:
    return shutil.which(journalctl) is not None


class JournalSource:
    """``journalctl -f -o json`` as an async iterator of :class:`JournalEntry`.

    ``matches`` are journalctl match arguments (``_SYSTEMD_UNIT=sshd.service``, ``+``);
    ``cursor`` resumes after the last entry seen (keep ``self.cursor`` across restarts).
    ``lines`` is how many old entries to start with (None: the whole journal).
    ``batches()`` yields the entries that arrived together, so a busy journal is
    handled a chunk at a time, not an entry at a time.
    """

    def __init__(
        self,
        matches: Sequence[str] = (),
        *,
        cursor: str | None = None,
        journalctl: str = "journalctl",
        lines: int | None = 0,
    ) -> None:
        self.matches = list(matches)
        self.cursor = cursor
        self.journalctl = journalctl
        self.lines = lines
        self.skipped = 0
        self.returncode: int | None = None  # journalctl's exit status once it ended

    def command(self) -> list[str]:
        cmd = [self.journalctl, "-f", "-o", "json", "--no-pager"]
        if self.cursor:
            cmd.append(f"--after-cursor={self.cursor}")
        else:
            cmd.append(f"--lines={'all' if self.lines is None else self.lines}")
        return cmd + self.matches

    def __aiter__(self) -> AsyncIterator[JournalEntry]:
        return self._follow()

    async def _follow(self) -> AsyncIterator[JournalEntry]:
        async for batch in self.batches():
            for entry in batch:
                yield entry

    async def batches(self) -> AsyncIterator[list[JournalEntry]]:
        """Lists of entries, one per read of journalctl's output; ends when it exits."""
        if not journal_available(self.journalctl):
            raise FileNotFoundError(f"{self.journalctl} not found: this host has no journald")
        proc = await asyncio.create_subprocess_exec(
            *self.command(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        assert proc.stdout is not None
        lines = LineCutter(MAX_JOURNAL_LINE, keep_cut=False)
        ended = False  # journalctl closed its output: it is exiting by itself
        try:
            while True:
                data = await proc.stdout.read(CHUNK)
                if not data:
                    ended = True
                    break
                before = lines.dropped
                complete = lines.feed(data)
                self.skipped += lines.dropped - before
                batch = self._entries(complete) if complete else []
                if batch:
                    yield batch
        finally:
            self.returncode = await _reap(proc, ended)

    def _entries(self, lines: bytes) -> list[JournalEntry]:
        batch = []
        for raw in lines.split(b"\n")[:-1]:
            if not raw.strip():
                continue
            entry = parse_journal_json(raw) if len(raw) <= MAX_JOURNAL_LINE else None
            if entry is None:
                self.skipped += 1
                continue
            if entry.cursor:
                self.cursor = entry.cursor
            batch.append(entry)
        return batch


async def _reap(proc: asyncio.subprocess.Process, ended: bool) -> int:
    """A journalctl's exit status, killing it first unless it is exiting by itself.

    A process that may have exited is not killed: ``kill()`` polls it first, which can
    reap it behind asyncio's back, and its status would then read 255.
    """
    if ended:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):  # it closed its output; it should be gone
                return await proc.wait()
    if proc.returncode is None:
        proc.kill()
    return await proc.wait()
