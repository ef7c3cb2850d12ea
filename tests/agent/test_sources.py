from __future__ import annotations

import asyncio
import gzip
import json
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldwall.agent.lines import LineCutter
from shieldwall.agent.sources import (
    MAX_LINE,
    FileFollower,
    JournalSource,
    Position,
    parse_journal_json,
    replay_chunks,
)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)


def read_whole(log: Path) -> Position:
    """Read ``log`` from its start as a follower does, then stop: the position it saves."""
    first = FileFollower(log, from_start=True)
    assert first.poll() == log.read_bytes()
    saved = first.position
    first.close()
    return saved


def test_follow_new_lines_and_hold_partial_line(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"old line\n")
    follower = FileFollower(log)  # starts at the end, like a daemon
    assert follower.poll() == b""
    append(log, b"one\ntw")
    assert follower.poll() == b"one\n"
    assert follower.position.offset == len(b"old line\none\n")
    append(log, b"o\n")
    assert follower.poll() == b"two\n"
    follower.close()


def test_rotation_by_rename_reads_old_tail_then_new_file(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    append(log, b"a\n")
    assert follower.poll() == b"a\n"
    append(log, b"b\n")  # written just before logrotate renames it
    log.rename(tmp_path / "auth.log.1")
    log.write_bytes(b"c\n")
    assert follower.poll() == b"b\nc\n"
    assert follower.rotations == 1
    append(log, b"d\n")
    assert follower.poll() == b"d\n"
    follower.close()


def test_rotation_completes_a_partial_last_line_of_the_old_file(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    append(log, b"x\nunfinished")
    assert follower.poll() == b"x\n"
    log.rename(tmp_path / "auth.log.1")
    log.write_bytes(b"y\n")
    assert follower.poll() == b"unfinished\ny\n"
    follower.close()


def test_copytruncate_restarts_from_zero(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    append(log, b"first request line\n")
    assert follower.poll() == b"first request line\n"
    (tmp_path / "access.log.1").write_bytes(log.read_bytes())  # logrotate copytruncate
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, b"new\n")
    assert follower.poll() == b"new\n"
    assert follower.truncations == 1
    follower.close()


def test_copytruncate_noticed_when_the_file_grew_back_past_the_old_end(tmp_path: Path) -> None:
    """logrotate copies and empties the log, the daemon writes more at once: between two
    polls the file is longer than before, yet it is a new file from byte 0."""
    log = tmp_path / "access.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    append(log, b"old line one\nold line two\n")
    assert follower.poll() == b"old line one\nold line two\n"
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, b"a new first line, longer than the old ones\nnew 2\n")
    assert follower.poll() == b"a new first line, longer than the old ones\nnew 2\n"
    assert follower.truncations == 1
    append(log, b"new 3\n")
    assert follower.poll() == b"new 3\n"  # and plain growth is not mistaken for one
    assert follower.truncations == 1
    follower.close()


def test_copytruncate_after_a_restart_from_a_saved_position(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"one\ntwo\n")
    again = FileFollower(log, position=read_whole(log))
    with log.open("r+b") as fh:
        fh.truncate(0)
    append(log, b"rewritten from the start\n")
    assert again.poll() == b"rewritten from the start\n"
    again.close()


@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param(1, id="one-write"),
        pytest.param(7, id="arriving-in-pieces"),
    ],
)
def test_over_long_line_is_cut_and_its_tail_is_not_a_line(tmp_path: Path, pieces: int) -> None:
    """A hostile line longer than MAX_LINE without a newline yet: its first MAX_LINE
    bytes count as the line, the rest (which could pass for a log line) is skipped."""
    log = tmp_path / "auth.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    forged = b"sshd[1]: Failed password for root from 192.0.2.10 port 1 ssh2"
    line = b"x" * (MAX_LINE + 10) + b" " + forged
    got = b""
    step = len(line) // pieces + 1
    for i in range(0, len(line), step):
        append(log, line[i : i + step])
        got += follower.poll()
    append(log, b"\nnext\n")
    got += follower.poll()
    assert got == b"x" * MAX_LINE + b"\nnext\n"
    assert forged not in got
    follower.close()


def test_replay_cuts_an_over_long_line_and_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"first\n" + b"y" * (3 * MAX_LINE) + b" forged\nthird\n")
    chunks = list(replay_chunks(path, chunk_size=1000))
    joined = b"".join(chunks)
    assert all(c.endswith(b"\n") for c in chunks)
    assert joined.split(b"\n")[:-1] == [b"first", b"y" * MAX_LINE, b"third"]


def test_binary_junk_and_invalid_utf8_pass_through_as_bytes(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"")
    follower = FileFollower(log)
    junk = bytes(range(256)).replace(b"\n", b"") + b"\xff\xfe\xc3\x28\n"
    append(log, junk)
    assert follower.poll() == junk
    follower.close()


def test_file_that_appears_later_is_read_from_start(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    follower = FileFollower(log)
    assert follower.poll() == b""
    log.write_bytes(b"hello\n")
    assert follower.poll() == b"hello\n"
    follower.close()


def test_resume_from_saved_position(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"a\nb\n")
    saved = read_whole(log)
    append(log, b"c\n")
    again = FileFollower(log, position=saved)
    assert again.poll() == b"c\n"
    again.close()
    # a position for another inode (the file was rotated meanwhile) reads the new file whole
    other = FileFollower(log, position=Position(saved.inode + 12345, 2))
    assert other.poll() == b"a\nb\nc\n"
    other.close()


def test_async_iteration_with_injected_sleep(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(b"")
    writes = iter([b"one\n", b"two\n"])

    async def fake_sleep(_seconds: float) -> None:
        append(log, next(writes, b""))

    async def collect() -> list[bytes]:
        got = []
        async for chunk in FileFollower(log, poll_interval=5.0, sleep=fake_sleep):
            got.append(chunk)
            if len(got) == 2:
                break
        return got

    assert asyncio.run(collect()) == [b"one\n", b"two\n"]


@pytest.mark.parametrize(
    "compressed", [pytest.param(False, id="plain"), pytest.param(True, id="gz")]
)
def test_replay_chunks_are_whole_lines(tmp_path: Path, compressed: bool) -> None:
    data = b"".join(b"line %d\n" % i for i in range(5000)) + b"no newline at end"
    path = tmp_path / ("log.gz" if compressed else "log")
    path.write_bytes(gzip.compress(data) if compressed else data)
    chunks = list(replay_chunks(path, chunk_size=1000))
    assert all(c.endswith(b"\n") for c in chunks)
    assert b"".join(chunks) == data + b"\n"


ENTRY = {
    "__CURSOR": "s=abc;i=1",
    "__REALTIME_TIMESTAMP": "1709447472000000",
    "_SYSTEMD_UNIT": "ssh.service",
    "SYSLOG_IDENTIFIER": "sshd",
    "_PID": "21004",
    "_HOSTNAME": "web1",
    "MESSAGE": "Failed password for root from 203.0.113.45 port 51522 ssh2",
}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(json.dumps(ENTRY).encode(), ENTRY["MESSAGE"], id="text"),
        pytest.param(json.dumps({**ENTRY, "MESSAGE": list(b"bad \xff byte")}).encode(),
                     "bad \ufffd byte", id="byte-array"),
        pytest.param(b"{not json", None, id="garbage"),
        pytest.param(json.dumps({**ENTRY, "MESSAGE": None}).encode(), None, id="no-message"),
    ],
)  # fmt: skip
def test_parse_journal_json(raw: bytes, message: str | None) -> None:
    entry = parse_journal_json(raw)
    assert (entry.message if entry else None) == message
    if entry is not None:
        assert entry.unit == "ssh.service" and entry.time == 1709447472.0
        assert entry.syslog_line().endswith(b" web1 sshd[21004]: " + message.encode() + b"\n")


def test_journal_source_with_fake_journalctl(tmp_path: Path) -> None:
    script = tmp_path / "journalctl"
    args_file = tmp_path / "args"
    lines = [json.dumps(ENTRY), "garbage", json.dumps({**ENTRY, "__CURSOR": "s=abc;i=2"})]
    script.write_text(
        f'#!/bin/sh\necho "$@" > {args_file}\n' + "".join(f"echo '{line}'\n" for line in lines)
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)

    async def collect(source: JournalSource) -> list[str]:
        return [entry.message async for entry in source]

    source = JournalSource(["_SYSTEMD_UNIT=ssh.service"], journalctl=str(script))
    assert asyncio.run(collect(source)) == [ENTRY["MESSAGE"], ENTRY["MESSAGE"]]
    assert source.cursor == "s=abc;i=2" and source.skipped == 1
    assert args_file.read_text().split() == [
        "-f", "-o", "json", "--no-pager", "--lines=0", "_SYSTEMD_UNIT=ssh.service",
    ]  # fmt: skip
    resumed = JournalSource(cursor=source.cursor, journalctl=str(script))
    asyncio.run(collect(resumed))
    assert "--after-cursor=s=abc;i=2" in args_file.read_text()


def test_journal_source_without_journalctl(tmp_path: Path) -> None:
    async def first() -> None:
        async for _ in JournalSource(journalctl=str(tmp_path / "absent")):
            break

    with pytest.raises(FileNotFoundError, match="no journald"):
        asyncio.run(first())


def test_journal_batches_skip_junk_and_over_long_entries(tmp_path: Path) -> None:
    script = tmp_path / "journalctl"
    huge = tmp_path / "huge.json"
    huge.write_text(json.dumps({**ENTRY, "MESSAGE": "x" * (5 * MAX_LINE)}) + "\n")
    first, second = json.dumps(ENTRY), json.dumps({**ENTRY, "__CURSOR": "s=abc;i=2"})
    script.write_text(
        f"#!/bin/sh\necho '{first}'\ncat {huge}\nprintf '\\377\\376 junk\\n'\necho '{second}'\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)

    async def collect(source: JournalSource) -> list[str]:
        return [e.message async for batch in source.batches() for e in batch]

    source = JournalSource(journalctl=str(script))
    assert asyncio.run(collect(source)) == [ENTRY["MESSAGE"], ENTRY["MESSAGE"]]
    assert source.skipped == 2 and source.cursor == "s=abc;i=2" and source.returncode == 0


def test_journal_from_the_start() -> None:
    assert "--lines=all" in JournalSource(lines=None).command()


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from([b"a", b"bc", b"\n", b"d\n", b"\ne", b""]), max_size=40).map(b"".join), st.data())  # fmt: skip
def test_line_cutter_passes_on_the_lines_whole_however_the_stream_is_cut(
    stream: bytes, data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    lines = LineCutter()
    out = [lines.feed(piece) for piece in pieces]
    assert all(chunk == b"" or chunk.endswith(b"\n") for chunk in out)
    assert b"".join(out) + lines.flush() == stream + (b"\n" if stream[-1:] not in (b"\n", b"") else b"")  # fmt: skip
