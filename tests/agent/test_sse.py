"""The decision stream's parser: whatever a hub sends, memory stays bounded."""

from __future__ import annotations

import pytest

from shieldwall.client.sse import EventReader, ServerEvent, read_events

DECISION = b'id: 7\nevent: decision\ndata: {"id": 3}\n\n'


def events(chunks: list[bytes], max_event: int = 1 << 20) -> tuple[list[ServerEvent], int]:
    reader = EventReader(max_event)
    return list(read_events(chunks, reader)), reader.skipped


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([DECISION], id="whole"),
        pytest.param([DECISION[:5], DECISION[5:13], DECISION[13:]], id="split-anywhere"),
        pytest.param([bytes([b]) for b in DECISION], id="byte-by-byte"),
        pytest.param([DECISION.replace(b"\n", b"\r\n")], id="crlf"),
        pytest.param([b": keep-alive\n\n" + DECISION], id="after-a-comment"),
    ],
)
def test_events_across_chunks(chunks: list[bytes]) -> None:
    assert events(chunks) == ([ServerEvent(7, "decision", '{"id": 3}')], 0)


def test_multi_line_data_is_joined() -> None:
    got, _ = events([b"event: x\ndata: a\ndata: b\n\n"])
    assert got == [ServerEvent(None, "x", "a\nb")]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b"id: \xc2\xb2\n", id="unicode-digit"),  # '²'.isdigit() is True
        pytest.param(b"id: 99999999999999999999999\n", id="absurd"),
        pytest.param(b"id: -1\n", id="negative"),
    ],
)
def test_bad_ids_are_ignored(line: bytes) -> None:
    got, _ = events([line + b"data: x\n\n"])
    assert got == [ServerEvent(None, "message", "x")]


def test_invalid_utf8_line_is_skipped() -> None:
    got, _ = events([b"data: \xff\xfe\ndata: ok\n\n"])
    assert got == [ServerEvent(None, "message", "ok")]


@pytest.mark.parametrize(
    "oversized",
    [
        pytest.param([b"data: " + b"x" * 5000 + b"\n\n"], id="one-huge-line"),
        pytest.param([b"data: " + b"x" * 100] * 100 + [b"\n\n"], id="huge-line-in-pieces"),
        pytest.param([b"data: xxxxxxxxxx\n" * 500 + b"\n"], id="many-data-lines"),
    ],
)
def test_oversized_event_is_skipped_and_the_stream_goes_on(oversized: list[bytes]) -> None:
    got, skipped = events([DECISION, *oversized, DECISION], max_event=1000)
    assert got == [ServerEvent(7, "decision", '{"id": 3}')] * 2
    assert skipped == 1


def test_held_bytes_stay_bounded_without_any_newline() -> None:
    reader = EventReader(max_event=1000)
    for _ in range(1000):
        assert reader.feed(b"y" * 1000) == []
        assert len(reader._rest) <= 2000
    assert reader.skipped == 1
    assert reader.feed(b"\n\n" + DECISION) == [ServerEvent(7, "decision", '{"id": 3}')]
