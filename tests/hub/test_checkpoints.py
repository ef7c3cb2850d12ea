"""The hub's upkeep (checkpoints, retention), a stream asked for pruned history, and the
``hub checkpoint`` and ``hub retain`` commands."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shieldwall.cli import main
from shieldwall.hub import archive
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.settings import HubSettings, settings_from
from shieldwall.hub.upkeep import Upkeep, build, build_apart, spans
from tests.conftest import refused
from tests.waiting import until, wait

from .conftest import Hub
from .test_stream_http import Alliance, Stream

DAY = 86400.0


def _old_history(hub: Hub) -> Alliance:
    """Decisions 100 days ago, two checkpoints since, and a little after them."""
    a = Alliance(hub)
    for i in range(4):
        a.decide(f"203.0.113.{i + 1}")
    hub.clock.advance(100 * DAY)
    for i in range(2):
        a.decide(f"198.51.100.{i + 1}")
    return a


def _upkeep(hub: Hub, **settings: float) -> Upkeep:
    hub.sec.settings = replace(hub.sec.settings, **settings)  # type: ignore[arg-type]
    return Upkeep(hub.sec, hub.data, clock=hub.clock)


def test_upkeep_checkpoints_when_due_then_prunes_what_retention_allows(hub: Hub) -> None:
    a = _old_history(hub)
    keeper = _upkeep(hub, checkpoint_inputs=1_000_000, checkpoint_seconds=3600.0)
    store = hub.sec.store
    first = asyncio.run(keeper.step())
    assert first is not None and first.row.seq == store.last_input_seq()
    assert asyncio.run(keeper.step()) is None, "nothing recorded since"
    a.decide("198.51.100.9")
    assert asyncio.run(keeper.step()) is None, "neither 1,000,000 inputs nor an hour yet"
    hub.clock.advance(3600)
    second = asyncio.run(keeper.step())
    assert second is not None and [r.seq for r in store.checkpoints()] == [
        second.row.seq,
        first.row.seq,
    ]
    done = keeper.last_pass
    assert done is not None and done.path is not None and done.path.parent == hub.data / "archive"
    assert store.pruned_input() == done.inputs.upto > 0 and store.pruned_event() > 0
    assert done.inputs.upto <= first.row.seq, "only up to the older of the two checkpoints"


def test_a_checkpoint_built_in_another_process_is_the_one_built_here(hub: Hub) -> None:
    """The hub builds checkpoints in a spawned process (its replay never holds the
    serving process's interpreter lock): the bytes are those of a build in this one."""
    _old_history(hub)
    store, upto = hub.sec.store, hub.sec.store.last_input_seq()
    apart = build_apart(store, hub.sec.founding, upto, 1.0)
    here = build(store, hub.sec.founding, upto, 1.0)
    assert apart.row == here.row and apart.blob == here.blob
    assert apart.row.seq == upto and apart.replayed == here.replayed > 0


_STOPPED_HUB = """
import functools, multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from shieldwall.hub.upkeep import _build_in_child
pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
# A build that takes its time (its store never opens): the hub is killed meanwhile.
pool.submit(_build_in_child, functools.partial(time.sleep, 600), "", 0, 0.0, os.getpid())
while not multiprocessing.active_children():
    time.sleep(0.05)
print(multiprocessing.active_children()[0].pid, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # an exited child its new parent has not reaped yet


def test_a_checkpoint_builder_ends_when_its_hub_is_killed() -> None:
    """A hub killed during a build leaves no process behind blocked on its pipe."""
    with subprocess.Popen(
        [sys.executable, "-c", _STOPPED_HUB], stdout=subprocess.PIPE, text=True
    ) as hub:
        try:
            assert hub.stdout is not None
            builder = int(hub.stdout.readline())
            assert _running(builder)
            time.sleep(1.0)
            assert _running(builder), "the builder keeps working while its hub runs"
        finally:
            hub.kill()
    wait(lambda: not _running(builder), limit=10, what="the orphaned builder to end")


def test_upkeep_works_off_a_retention_backlog_one_bounded_pass_per_step(hub: Hub) -> None:
    a = _old_history(hub)
    hub.sec.settings = replace(hub.sec.settings, checkpoint_inputs=1)
    keeper = Upkeep(hub.sec, hub.data, clock=hub.clock, limits=(2, 3))
    asyncio.run(keeper.step())
    a.decide("198.51.100.9")
    assert asyncio.run(keeper.step()) is not None  # the second checkpoint, and a pass
    hub.sec.settings = replace(hub.sec.settings, checkpoint_inputs=1_000_000)
    files = []
    while keeper.backlog:
        assert keeper.last_pass is not None and keeper.last_pass.path is not None
        files.append(keeper.last_pass.path)
        assert asyncio.run(keeper.step()) is None, "no checkpoint due: the backlog goes on"
    assert len(files) > 2 and len(set(files)) == len(files)
    inputs, events, more = spans(hub.sec.store, hub.sec.treaty, hub.clock())
    assert not inputs and not events and not more


def test_a_hub_that_does_not_record_writes_no_checkpoint(hub: Hub) -> None:
    _old_history(hub)
    keeper = _upkeep(hub, checkpoint_inputs=1)
    hub.sec.standby = True  # a standby node on PostgreSQL
    assert asyncio.run(keeper.step()) is None
    hub.sec.standby = False
    hub.sec.replica_of = "http://primary:8470"  # a read replica over the bus
    assert asyncio.run(keeper.step()) is None
    assert hub.sec.store.checkpoints() == []


def _restarted(hub: Hub) -> Hub:
    """The same data directory served by a new process (new secretariat, new app)."""
    sec = open_secretariat(hub.data, clock=hub.clock)
    http = TestClient(create_app(sec, ticker=False), base_url="http://hub.test")
    return Hub(hub.data, hub.token, hub.clock, sec, http)


def test_a_stream_from_before_the_retained_history_gets_a_resync(hub: Hub) -> None:
    a = _old_history(hub)
    keeper = _upkeep(hub, checkpoint_inputs=1)
    for _ in range(2):
        asyncio.run(keeper.step())
        a.decide("198.51.100.7")
    pruned = hub.sec.store.pruned_event()
    assert pruned > 2
    again = _restarted(hub)
    last = again.sec.stream.last_id
    try:

        async def stream(after: int) -> Stream:
            headers = a.alpha.stream_headers()
            headers["Last-Event-ID"] = str(after)
            s = Stream(again, headers)
            await until(lambda: f"id: {last}\n" in s.text, what="the stream up to now")
            await s.close()
            return s

        async def both() -> tuple[Stream, Stream]:
            # one loop for both: the stream's wake-up belongs to the loop it first ran on
            return await stream(1), await stream(pruned)

        old, kept = asyncio.run(both())
        lines = old.text.splitlines()
        assert "event: resync" in lines and old.ids() == [last]
        body = json.loads(lines[lines.index("event: resync") + 1][6:])
        assert body["after"] == 1 and body["oldest"] == pruned + 1 and body["cursor"] == last
        assert "pruned by the treaty's retention" in body["reason"]
        assert "event: resync" not in kept.text, "at the boundary nothing is missing"
        assert kept.ids() == list(range(pruned + 1, last + 1))
        decisions = again.admin().get("/v1/decisions")
        assert {d["target"] for d in decisions["decisions"]} >= {"198.51.100.1", "198.51.100.2"}
    finally:
        again.http.close()
        again.sec.store.close()


def test_hub_checkpoint_commands(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    _old_history(hub)
    data = str(hub.data)
    message = refused(["hub", "checkpoint", "--data", data, "--verify"], capsys)
    assert "no checkpoint at all (it holds: none)" in message
    assert main(["hub", "checkpoint", "--data", data, "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["seq"] == hub.sec.store.last_input_seq() and written["format"] == 1
    assert main(["hub", "checkpoint", "--data", data, "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["checkpoints"]
    assert [c["digest"] for c in listed] == [written["digest"]]
    assert main(["hub", "checkpoint", "--data", data, "--verify", "--json"]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["ok"] and verdict["replayed"] == written["digest"]
    assert main(["hub", "checkpoint", "--data", data, "--verify"]) == 0
    assert "matches a full replay" in capsys.readouterr().out
    message = refused(["hub", "checkpoint", "--data", data, "--seq", "3"], capsys)
    assert "--seq selects the checkpoint to verify" in message


def test_hub_retain_command(hub: Hub, capsys: pytest.CaptureFixture[str]) -> None:
    hub.clock.now = time.time() - 200 * DAY  # the command runs on the real clock
    a = _old_history(hub)
    data = str(hub.data)
    assert main(["hub", "retain", "--data", data, "--json"]) == 0
    nothing = json.loads(capsys.readouterr().out)
    assert len(nothing["archives"]) == 1
    # Without checkpoints no input may go; the old events may (nothing needs them).
    assert nothing["inputs"] == 0 and nothing["events"] > 0
    for _ in range(2):
        assert main(["hub", "checkpoint", "--data", data]) == 0
        a.decide("198.51.100.8")
    capsys.readouterr()
    assert main(["hub", "retain", "--data", data, "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["inputs"] > 0 and done["events"] > 0
    (path,) = map(Path, done["archives"])
    assert path.parent == hub.data / archive.DIRECTORY and path.exists()
    # A full replay reads the pruned inputs back from the data directory's archives.
    assert main(["hub", "checkpoint", "--verify", "--data", data]) == 0
    assert "matches a full replay" in capsys.readouterr().out
    path.rename(hub.data / path.name)
    assert main(["hub", "checkpoint", "--verify", "--data", data]) == 2
    assert "hold no input 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        pytest.param("checkpoint_inputs", 0, "must be above zero", id="inputs-zero"),
        pytest.param("checkpoint_inputs", "many", "must be a int", id="inputs-text"),
        pytest.param("checkpoint_seconds", -5, "must be above zero", id="seconds-negative"),
        pytest.param("checkpoint_second", 60, "did you mean 'checkpoint_seconds'", id="typo"),
    ],
)
def test_checkpoint_settings_are_checked(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from({key: value}, "hub.toml")


def test_checkpoint_settings_have_defaults() -> None:
    s = HubSettings()
    assert s.checkpoint_inputs == 10_000 and s.checkpoint_seconds == 3600.0
