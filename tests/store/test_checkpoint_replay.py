"""A hub starts from its newest valid checkpoint, on either store, and the result is the
state a full replay of every recorded input gives; retention archives and prunes."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import pytest

from shieldwall.core import checkpoint
from shieldwall.core.model import Signal
from shieldwall.hub import archive, checkpoints, upkeep
from shieldwall.hub.secretariat import Secretariat
from shieldwall.signing import SigningKey
from tests.hub.conftest import Clock
from tests.hub.replicas import state

from .conftest import Stores
from .test_replay import _secretariat

DAY = 86400.0


def _alliance(sec: Secretariat) -> None:
    for i, name in enumerate(("alpha", "bravo", "charlie")):
        sec.join(name, SigningKey.generate().public_key, [f"192.0.2.{10 + i}"])
        sec.approve(name, by="secretariat")


def _attacks(sec: Secretariat, clock: Clock, rounds: int, step: float = 60.0) -> None:
    """Each round: two members report an attacker (a decision), one reports a stray."""
    for r in range(rounds):
        base = 1_800_000_000_000_000 + r
        for k, member in enumerate(("alpha", "bravo")):
            target = f"203.0.{r % 200}.{10 + r % 50}"
            sec.submit(member, base, [Signal(member, target, "ssh", clock(), 5 + k)])
            clock.advance(1)
        sec.submit(
            "charlie", base, [Signal("charlie", f"198.51.100.{r % 250}", "http", clock(), 2)]
        )
        clock.advance(step)
        sec.tick()


def _founded(stores: Stores, clock: Clock, rounds: int) -> Secretariat:
    """A new hub with three members and ``rounds`` of attacks recorded."""
    sec = _secretariat(stores, clock, fresh=True)
    _alliance(sec)
    _attacks(sec, clock, rounds)
    return sec


def _checkpoint(sec: Secretariat, clock: Clock) -> checkpoints.Built:
    built = checkpoints.build(sec.store, sec.founding, sec.store.last_input_seq(), clock())
    upkeep.store_built(sec.store, built)
    return built


def _replayed(sec: Secretariat) -> bytes:
    """The bytes of a full replay of the store (no checkpoint) up to its last input."""
    upto = sec.store.last_input_seq()
    full = checkpoints.rebuild(sec.store, sec.founding, upto, checkpoints=False)
    return checkpoint.capture(full.council, upto).body


def test_a_start_loads_the_newest_checkpoint_and_replays_only_what_came_after(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 5)
    first = _checkpoint(sec, clock)
    _attacks(sec, clock, 5)
    second = _checkpoint(sec, clock)
    assert second.replayed < sec.store.last_input_seq() - first.row.seq + 1, (
        "the second checkpoint is built from the first, not from the first input"
    )
    _attacks(sec, clock, 3)
    after = sec.store.last_input_seq() - second.row.seq
    active = [d.id for d in sec.active(clock())]
    last_event = sec.stream.last_id
    sec.store.close()

    caplog.set_level(logging.INFO, logger="shieldwall.hub")
    again = _secretariat(stores, clock)
    assert (
        f"loaded the checkpoint at input {second.row.seq} and replayed {after} recorded inputs"
        in caplog.text
    )
    assert [d.id for d in again.active(clock())] == active and active
    assert again.stream.last_id == last_event
    upto = again.store.last_input_seq()
    assert checkpoint.capture(again.council, upto).body == _replayed(again)


def test_checkpoints_are_deterministic_and_verify_against_a_replay(stores: Stores) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 6)
    built = _checkpoint(sec, clock)
    again = checkpoints.build(sec.store, sec.founding, built.row.seq, clock())
    assert again.row.digest == built.row.digest
    verdict = checkpoints.verify(sec.store, sec.founding)
    assert verdict.ok and verdict.seq == built.row.seq and verdict.replayed == built.row.digest


def test_a_checkpoint_that_differs_from_the_replay_fails_verification(stores: Stores) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 3)
    early = checkpoints.rebuild(sec.store, sec.founding, sec.store.last_input_seq())
    _attacks(sec, clock, 3)
    upto = sec.store.last_input_seq()
    wrong = checkpoint.capture(early.council, upto)  # loads, but is not the state at upto
    with sec.store.transaction():
        sec.store.put_checkpoint(checkpoints.row(wrong, clock()), zlib.compress(wrong.body))
    verdict = checkpoints.verify(sec.store, sec.founding)
    assert verdict.loads and not verdict.ok and verdict.stored == wrong.digest


def _damage(stores: Stores, seq: int, how: str) -> None:
    store = stores.open()
    blob = store.checkpoint_blob(seq) or b""
    row = next(r for r in store.checkpoints() if r.seq == seq)
    if how == "format":
        row = checkpoints.CheckpointRow(**{**vars(row), "format": checkpoint.FORMAT + 1})
    elif how == "digest":
        row = checkpoints.CheckpointRow(**{**vars(row), "digest": "0" * 64})
    else:
        blob = blob[: len(blob) // 2]
    with store.transaction():
        store._run("DELETE FROM checkpoints WHERE seq = ?", (seq,))
        store.put_checkpoint(row, blob)
    store.close()


@pytest.mark.parametrize(
    ("how", "why"),
    [
        pytest.param("format", "has format 2, this version reads 1", id="other-format"),
        pytest.param("digest", "do not match its digest", id="digest-mismatch"),
        pytest.param("truncated", "Error -5", id="corrupt"),
    ],
)
def test_a_checkpoint_that_does_not_load_is_skipped_for_the_one_before(
    stores: Stores, caplog: pytest.LogCaptureFixture, how: str, why: str
) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 3)
    first = _checkpoint(sec, clock)
    _attacks(sec, clock, 3)
    second = _checkpoint(sec, clock)
    sec.store.close()
    _damage(stores, second.row.seq, how)

    caplog.set_level(logging.INFO, logger="shieldwall.hub")
    again = _secretariat(stores, clock)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and f"checkpoint at input {second.row.seq} skipped" in skipped[0]
    assert why in skipped[0]
    assert f"loaded the checkpoint at input {first.row.seq}" in caplog.text
    assert checkpoint.capture(again.council, again.store.last_input_seq()).body == _replayed(again)


def test_without_a_loadable_checkpoint_the_hub_replays_everything(
    stores: Stores, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 3)
    only = _checkpoint(sec, clock)
    total = sec.store.last_input_seq()
    sec.store.close()
    _damage(stores, only.row.seq, "digest")
    caplog.set_level(logging.INFO, logger="shieldwall.hub")
    _secretariat(stores, clock)
    assert f"replayed {total} recorded inputs" in caplog.text


def _retained(stores: Stores, clock: Clock) -> Secretariat:
    """A hub whose first records are 100 days old, with two checkpoints covering them."""
    sec = _founded(stores, clock, 4)
    clock.advance(100 * DAY)
    _checkpoint(sec, clock)
    _attacks(sec, clock, 2)
    _checkpoint(sec, clock)
    _attacks(sec, clock, 1)
    return sec


def test_retention_archives_then_prunes_what_the_checkpoints_cover(
    stores: Stores, tmp_path: Path
) -> None:
    clock = Clock()
    sec = _retained(stores, clock)
    store = sec.store
    covered = store.checkpoints()[1].seq  # the older of the two newest checkpoints
    old_inputs = store.last_input_before(clock() - 90 * DAY)
    old_events = store.last_event_before(clock() - 90 * DAY)
    assert 0 < old_inputs <= covered and old_events > 0
    inputs = store.inputs_after(0, 10_000)[:old_inputs]
    events = store.events_after(0, 10_000)[:old_events]
    signals = store.signals_between(0, old_inputs)
    active = [d.id for d in sec.active(clock())]

    passes = upkeep.retain(store, sec.treaty, tmp_path / "archive", clock())
    assert len(passes) == 1 and not passes[0].more
    done = passes[0]
    assert done.path is not None
    assert (done.pruned_inputs, done.pruned_events) == (old_inputs, old_events)
    assert done.path.name == f"records-i1-{old_inputs}-e1-{old_events}.jsonl.gz"
    lines = list(archive.read(done.path))
    assert lines[0]["inputs"] == [1, old_inputs] and lines[0]["events"] == [1, old_events]
    assert [(x["input"], x["kind"]) for x in lines if "input" in x] == [
        (seq, kind) for seq, _, kind, _ in inputs
    ]
    archived_signals = [
        (x["input"], tuple(s)) for x in lines if "input" in x for s in x.get("signals", [])
    ]
    assert archived_signals == [
        (seq, (s.member, s.target, s.scenario, s.at, s.events)) for seq, s in signals
    ]
    assert [(x["event"], x["body"]) for x in lines if "event" in x] == [
        (i, body) for i, _, _, body in events
    ]
    assert store.inputs_after(0, 1)[0][0] == old_inputs + 1
    assert store.signals_between(0, old_inputs) == []
    assert upkeep.retain(store, sec.treaty, tmp_path / "archive", clock()) == []
    last_event = sec.stream.last_id
    store.close()

    again = _secretariat(stores, clock)  # from the checkpoint: the pruned inputs are not needed
    assert [d.id for d in again.active(clock())] == active
    assert again.stream.last_id == last_event
    for decision_id in active:
        assert again.store.decision_row(decision_id) is not None


def test_without_two_checkpoints_nothing_is_pruned(stores: Stores, tmp_path: Path) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 3)
    clock.advance(100 * DAY)
    _checkpoint(sec, clock)
    inputs, events, _ = upkeep.spans(sec.store, sec.treaty, clock())
    assert not inputs, "inputs wait for a second checkpoint (the first may not load)"
    assert events, "old events need no checkpoint"


def _state(sec: Secretariat) -> dict[str, object]:
    """The council's state as ``replicas.state`` sees it; of the stream, how far it got
    (a hub started after retention streams a resync where an older one still holds the
    pruned events in memory)."""
    seen = state(sec)
    seen["events"] = sec.stream.last_id
    return seen


def test_pruned_inputs_are_replayed_from_the_archives_when_no_checkpoint_loads(
    stores: Stores, tmp_path: Path
) -> None:
    clock = Clock()
    sec = _retained(stores, clock)
    archives = tmp_path / "archive"
    assert upkeep.retain(sec.store, sec.treaty, archives, clock())
    before = _state(sec)
    # A full replay (verify) reads the pruned inputs back from the archive files.
    with pytest.raises(checkpoints.NoCheckpoint, match="no archive directory was given"):
        checkpoints.verify(sec.store, sec.founding)
    assert checkpoints.verify(sec.store, sec.founding, archives=archives).ok
    # No checkpoint loads (after an upgrade that changed their format, say).
    with sec.store.transaction():
        sec.store._run("UPDATE checkpoints SET format = format + 1")
    sec.store.close()
    with pytest.raises(checkpoints.NoCheckpoint, match="restore the store from a backup"):
        _secretariat(stores, clock)
    again = Secretariat(stores.open(), clock, archives=archives)
    assert _state(again) == before
    # ... and the checkpoint it writes next is the one a full replay gives.
    upto = again.store.last_input_seq()
    built = upkeep.build_apart(again.store, again.founding, upto, clock(), archives)
    upkeep.store_built(again.store, built)
    assert checkpoints.verify(again.store, again.founding, archives=archives).ok


def test_pruning_goes_in_short_steps_and_a_crash_between_two_loses_nothing(
    stores: Stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    sec = _retained(stores, clock)
    before = _state(sec)
    archives = tmp_path / "archive"
    monkeypatch.setattr(upkeep, "STEP_INPUTS", 2)
    monkeypatch.setattr(upkeep, "STEP_EVENTS", 3)
    store = sec.store
    real = store.prune
    steps: list[tuple[int, int]] = []

    def crash_at_third_step(inputs_upto: int, events_upto: int) -> tuple[int, int]:
        steps.append((inputs_upto, events_upto))
        if len(steps) == 3:
            raise OSError("the machine went down")
        return real(inputs_upto, events_upto)

    monkeypatch.setattr(store, "prune", crash_at_third_step)
    with pytest.raises(OSError, match="went down"):
        upkeep.retain(store, sec.treaty, archives, clock())
    assert steps[:2] == [(2, 3), (4, 6)], "each step its own bounded transaction"
    assert (store.pruned_input(), store.pruned_event()) == (4, 6), "two steps landed"
    monkeypatch.setattr(store, "prune", real)
    done = upkeep.retain(store, sec.treaty, archives, clock())  # exports the rest again
    assert done and done[0].longest > 0 and len(list(archives.iterdir())) == 2
    with store.transaction():
        store._run("DELETE FROM checkpoints")
    store.close()
    assert _state(Secretariat(stores.open(), clock, archives=archives)) == before


def test_archives_missing_inputs_stop_the_start_naming_the_first(
    stores: Stores, tmp_path: Path
) -> None:
    clock = Clock()
    sec = _retained(stores, clock)
    archives = tmp_path / "archive"
    [done] = upkeep.retain(sec.store, sec.treaty, archives, clock())
    assert done.path is not None
    with sec.store.transaction():
        sec.store._run("DELETE FROM checkpoints")
    sec.store.close()
    moved = done.path.rename(tmp_path / done.path.name)  # one node's archives only
    with pytest.raises(checkpoints.NoCheckpoint, match=r"hold no input 1 .*copy every archive"):
        Secretariat(stores.open(), clock, archives=archives)
    moved.rename(done.path)
    assert Secretariat(stores.open(), clock, archives=archives).stream.last_id > 0


def test_verify_names_the_checkpoints_there_are(stores: Stores) -> None:
    clock = Clock()
    sec = _secretariat(stores, clock, fresh=True)
    with pytest.raises(ValueError, match=r"no checkpoint at all \(it holds: none\)"):
        checkpoints.verify(sec.store, sec.founding)
    _alliance(sec)
    built = _checkpoint(sec, clock)
    with pytest.raises(
        ValueError, match=rf"no checkpoint at input 99 \(it holds: {built.row.seq}\)"
    ):
        checkpoints.verify(sec.store, sec.founding, 99)


BAD = "fe80::1%eth0"  # what an older version could store: this one refuses zone ids


@pytest.mark.parametrize(
    ("built_by", "checked"),
    [
        pytest.param(None, [], id="same-version-checks-only-newer-rows"),
        pytest.param("0.0.1", [1], id="other-version-checks-every-row"),
    ],
)
def test_after_a_checkpoint_the_stored_rows_are_checked_as_its_version_needs(
    stores: Stores, caplog: pytest.LogCaptureFixture, built_by: str | None, checked: list[int]
) -> None:
    clock = Clock()
    sec = _founded(stores, clock, 2)
    built = _checkpoint(sec, clock)
    store = sec.store
    with store.transaction():
        store._run("UPDATE decisions SET target = ? WHERE id = 1", (BAD,))
        store._run("UPDATE decisions SET target = ?, id = 1000 WHERE id = 2", (BAD,))
        if built_by is not None:
            store._run("UPDATE checkpoints SET built_by = ?", (built_by,))
    store.close()
    caplog.set_level(logging.INFO, logger="shieldwall.hub")
    _secretariat(stores, clock)
    assert f"loaded the checkpoint at input {built.row.seq}" in caplog.text
    quarantined = [
        int(r.getMessage().split("#")[1].split(":")[0])
        for r in caplog.records
        if r.getMessage().startswith("quarantined stored decision")
    ]
    assert quarantined == [*checked, 1000], "a row issued after the checkpoint is always checked"


def test_a_long_backlog_is_pruned_in_bounded_passes_one_file_each(
    stores: Stores, tmp_path: Path
) -> None:
    clock = Clock()
    sec = _retained(stores, clock)
    store = sec.store
    old_inputs = store.last_input_before(clock() - 90 * DAY)
    old_events = store.last_event_before(clock() - 90 * DAY)
    passes = upkeep.retain(store, sec.treaty, tmp_path, clock(), most_inputs=5, most_events=7)
    assert len(passes) == max(-(-old_inputs // 5), -(-old_events // 7)) > 2
    assert [p.more for p in passes] == [True] * (len(passes) - 1) + [False]
    assert all(p.pruned_inputs <= 5 and p.pruned_events <= 7 for p in passes)
    assert sum(p.pruned_inputs for p in passes) == old_inputs
    assert sum(p.pruned_events for p in passes) == old_events
    lines = [line for p in passes if p.path for line in archive.read(p.path)]
    assert [x["input"] for x in lines if "input" in x] == list(range(1, old_inputs + 1))
    assert [x["event"] for x in lines if "event" in x] == list(range(1, old_events + 1))
