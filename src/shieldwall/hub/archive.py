"""Archive files: recorded inputs and stream events, exported before retention prunes them.

One gzip file of JSON lines per retention pass, under ``DATA/archive/``, named by the
ranges it holds: ``records-i<first>-<last>-e<first>-<last>.jsonl.gz`` (an empty range
is written ``0-0``). The first line describes the file; then one line per input
(``{"input": seq, "at", "kind", "payload", "signals": [[member, target, scenario, at,
events], ...]}``), then one per event (``{"event": id, "at", "kind", "body"}``), in
order. The file is written under a temporary name, flushed to disk (fsync), renamed,
and the directory synced, before the store deletes anything: a crash at any point
leaves either the rows in the store or a complete file (or both), never neither.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shieldwall.core.model import Signal
from shieldwall.hub.recorded import Recorded, recorded
from shieldwall.store.base import Store

FORMAT = 1
DIRECTORY = "archive"
PAGE = 5000


@dataclass(frozen=True)
class Span:
    """Rows ``after < n <= upto`` of one table (empty when ``upto <= after``)."""

    after: int
    upto: int

    def __bool__(self) -> bool:
        return self.upto > self.after

    @property
    def name(self) -> str:
        return f"{self.after + 1}-{self.upto}" if self else "0-0"


def file_name(inputs: Span, events: Span) -> str:
    return f"records-i{inputs.name}-e{events.name}.jsonl.gz"


def _input_lines(store: Store, span: Span) -> Iterator[dict[str, Any]]:
    if not span:
        return
    # The same paged reading of inputs with their signals as a replay does.
    for seq, at, kind, payload, signals in recorded(store, span.after, span.upto):
        line: dict[str, Any] = {"input": seq, "at": at, "kind": kind, "payload": payload}
        if signals:
            line["signals"] = [[s.member, s.target, s.scenario, s.at, s.events] for s in signals]
        yield line


def _event_lines(store: Store, span: Span) -> Iterator[dict[str, Any]]:
    after = span.after
    while after < span.upto:
        rows = [r for r in store.events_after(after, PAGE) if r[0] <= span.upto]
        if not rows:
            return
        for i, at, kind, body in rows:
            yield {"event": i, "at": at, "kind": kind, "body": body}
        after = rows[-1][0]


def export(store: Store, directory: Path, inputs: Span, events: Span, written_at: float) -> Path:
    """Write the rows of ``inputs`` and ``events`` to a new archive file; its path.

    Returns only once the file and its directory entry are on disk.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name(inputs, events)
    partial = path.with_name(path.name + ".partial")
    head = {
        "archive": FORMAT,
        "store": str(store.path),
        "inputs": [inputs.after + 1, inputs.upto] if inputs else None,
        "events": [events.after + 1, events.upto] if events else None,
        "written_at": written_at,
    }
    with open(partial, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
            gz.write(_line(head))
            for line in _input_lines(store, inputs):
                gz.write(_line(line))
            for line in _event_lines(store, events):
                gz.write(_line(line))
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, path)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of an archive file (the description first); ValueError if it is not one."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        first = True
        for text in f:
            line = json.loads(text)
            if first and (not isinstance(line, dict) or line.get("archive") != FORMAT):
                raise ValueError(
                    f"{str(path)!r} is not a shieldwall archive of format {FORMAT}: "
                    "give a file from DATA/archive/"
                )
            first = False
            yield line


_NAME = re.compile(r"records-i(\d+)-(\d+)-e(\d+)-(\d+)\.jsonl\.gz")


def archived(directory: Path, upto: int) -> Iterator[Recorded]:
    """Inputs 1 to ``upto`` from the archive files in ``directory``, in order, with their
    signals: what a replay needs when retention has pruned them and no checkpoint loads.

    ValueError naming the first input no file holds, before anything is yielded.
    """
    spans = []
    for path in directory.glob("records-i*.jsonl.gz") if directory.is_dir() else ():
        found = _NAME.fullmatch(path.name)
        if found and int(found[1]) > 0:
            spans.append((int(found[1]), int(found[2]), path))
    spans.sort()
    covered, files = 0, []  # the files' input ranges must join up from input 1
    for first, last, path in spans:
        if covered >= upto or first > covered + 1:
            break
        if last > covered:
            files.append(path)
            covered = last
    if covered < upto:
        raise ValueError(
            f"the archive files in {str(directory)!r} hold no input {covered + 1} (retention "
            f"pruned inputs 1 to {upto}): copy every archive file of this alliance there "
            "(on PostgreSQL each node archives what it pruned while it led)"
        )
    return _archived_inputs(files, upto)


def _archived_inputs(files: list[Path], upto: int) -> Iterator[Recorded]:
    done = 0
    for path in files:
        for line in read(path):
            seq = line.get("input")
            if seq is None or seq <= done:
                continue  # the description, an event, or an input an earlier file held
            if seq > upto:
                return
            signals = [Signal(*s) for s in line.get("signals", ())]
            yield seq, line["at"], line["kind"], line["payload"], signals
            done = seq
