"""Three hub nodes on one PostgreSQL store under a steady load of signed batches,
while the leader is killed (five times), paused for longer than its lease, and cut
off from the database. Afterwards every acknowledged signal is recorded exactly
once, every member's stream has no gap and no duplicate across the failovers, every
node holds the state a single node replaying the records builds, and an agent
given all three nodes enforced a new decision after every failover.

Members, streams and the agent are given every node's URL and move on by
themselves; batches in doubt are resent under their sequence number, as an agent's
outbox does. Every wait is on a condition, with a generous deadline."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.client.hub import Nodes, next_seq
from shieldwall.hub.secretariat import Secretariat
from shieldwall.hub.settings import HubSettings
from shieldwall.procs import free_port
from shieldwall.signing import SigningKey
from shieldwall.store.postgres import PostgresStore
from tests.conftest import require_env
from tests.store.pg import scratch_schema
from tests.waiting import wait

from .conftest import HubProcess, cli_json
from .test_agents_e2e import AgentProcess, running

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
LEASE = 1.0  # seconds: short, so that five takeovers fit in the test's time
WAIT = 60.0


@dataclass
class Alliance:
    """Three nodes of one hub; ``url`` (all nodes) is what members are given."""

    nodes: list[HubProcess]
    store: str
    token: str

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def health(self, node: HubProcess) -> dict[str, object] | None:
        if node.proc is None or node.proc.poll() is not None:
            return None
        try:
            answer = httpx.get(node.url + "/healthz", timeout=2)
        except httpx.HTTPError:
            return None
        return dict(answer.json()) if answer.status_code == 200 else None

    def leader(self, above: int = 0) -> tuple[HubProcess, int]:
        """The node leading under an epoch above ``above``, once there is one."""
        found: list[tuple[HubProcess, int]] = []

        def leading() -> bool:
            for node in self.nodes:
                seen = self.health(node)
                if seen and seen["role"] == "leader" and int(str(seen["epoch"])) > above:
                    found[:] = [(node, int(str(seen["epoch"])))]
                    return True
            return False

        wait(leading, WAIT, f"a leader above epoch {above}", lambda: self._roles())
        return found[0]

    def _roles(self) -> list[object]:
        return [(n.port, (self.health(n) or {}).get("role")) for n in self.nodes]


@pytest.fixture
def alliance(tmp_path: Path) -> Iterator[Alliance]:
    with scratch_schema(require_env("SHIELDWALL_TEST_PG"), prefix="sw_failover") as url:
        first = tmp_path / "node0"
        token = cli_json("hub", "init", "--data", str(first), "--store", url)["admin_token"]
        with open(first / "hub.toml", "a") as fh:
            fh.write(f"lease = {LEASE}\nheartbeat = 1.0\n")
        nodes = []
        for i in range(3):
            data = tmp_path / f"node{i}"
            if i:  # a node's directory is a copy of the first one's
                shutil.copytree(first, data, ignore=shutil.ignore_patterns("hub.lock"))
            nodes.append(HubProcess(data, free_port(), token, tmp_path / f"node{i}.log"))
        try:
            for node in nodes:
                node.start()
            yield Alliance(nodes, url, token)
        finally:
            for node in nodes:
                if node.proc is not None and node.proc.poll() is None:
                    os.kill(node.proc.pid, signal.SIGCONT)
                node.stop()


@dataclass
class Load:
    """Members sending signed batches without pause; each batch is resent, under its
    sequence number, until the hub acknowledges it (``replayed``: it had it already)."""

    clients: dict[str, HubClient]
    acked: list[tuple[str, str]] = field(default_factory=list)
    resent: int = 0
    done: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._send, args=(i, name), daemon=True)
            for i, name in enumerate(self.clients)
        ]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join(WAIT)
        assert not any(t.is_alive() for t in self.threads), "a batch was never acknowledged"

    def progressed(self, by: int) -> None:
        """Wait until ``by`` more signals are acknowledged."""
        target = len(self.acked) + by
        wait(lambda: len(self.acked) >= target, WAIT, f"{by} more acknowledged signals")

    def _send(self, i: int, name: str) -> None:
        client, n = self.clients[name], 0
        while not self.done.is_set():
            targets = [f"10.{i}.{(n + j) // 250 % 250}.{(n + j) % 250 + 1}" for j in range(20)]
            n += 20
            signals = [
                {"target": t, "scenario": "port-scan", "at": time.time(), "events": 3}
                for t in targets
            ]
            seq = next_seq()
            while True:  # until acknowledged, whatever happens to the nodes
                try:
                    client.submit(signals, seq=seq)
                    break
                except HubError as exc:
                    if exc.code == "replayed":
                        break  # recorded before the answer was lost
                    self.resent += 1
                    self.done.wait(0.05)  # back off before the next node
            self.acked += [(name, t) for t in targets]


@dataclass
class Stream:
    """A member following the decision stream, resuming with Last-Event-ID."""

    client: HubClient
    ids: list[int] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop following: closing the client ends the read the thread is blocked in."""
        self.done.set()
        self.client.close()
        if self.thread is not None:
            self.thread.join(WAIT)

    def _follow(self) -> None:
        while not self.done.is_set():
            try:
                after = self.ids[-1] if self.ids else 0
                for event in self.client.stream(after=after, timeout=3):
                    if event.id is not None:
                        self.ids.append(event.id)
                    if self.done.is_set():
                        return
            except HubError:
                self.done.wait(0.05)
            except Exception:
                if not self.done.is_set():
                    raise
                return  # the client was closed under the read


def _member(urls: str, token: str, name: str, address: str, nodes: Nodes) -> HubClient:
    client = HubClient(urls, name=name, key=SigningKey.generate(), timeout=3, nodes=nodes)
    client.join([address])
    with HubClient(urls, admin_token=token, timeout=3) as admin:
        admin.approve(name)
    return client


def _terminate_sessions(server: str, pid: int) -> int:
    with psycopg.connect(server, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name IN (%s, %s)",
            (f"shieldwall-hub/{pid}", f"shieldwall-lease/{pid}"),
        ).fetchall()
    return len(rows)


def test_the_alliance_keeps_its_council_through_kills_pauses_and_cuts(
    alliance: Alliance, tmp_path: Path
) -> None:
    urls = alliance.url
    leader, epoch = alliance.leader()
    load = Load(
        {
            name: _member(urls, alliance.token, name, f"192.0.2.{20 + i}", Nodes(urls.split(",")))
            for i, name in enumerate(("alpha", "bravo", "charlie"))
        }
    )
    reporters = [
        _member(urls, alliance.token, name, f"192.0.2.{30 + i}", Nodes(urls.split(",")))
        for i, name in enumerate(("delta", "echo"))
    ]
    streams = [
        Stream(HubClient(urls, name=c.name, key=c.key, timeout=3, nodes=Nodes(urls.split(","))))
        for c in (*load.clients.values(), *reporters)
    ]
    nodes = _AllNodes(urls, alliance.token)
    # A paused node's streams go silent: the agent moves on after 3 s without a heartbeat.
    agent = AgentProcess(
        nodes,  # type: ignore[arg-type]
        tmp_path,
        "watcher",
        "192.0.2.40",
        agent_extra="stream_timeout = 3",
    )
    probes: list[str] = []

    def probe() -> None:
        """A new decision after the failover: the agent must enforce it."""
        target = f"198.51.100.{len(probes) + 1}"
        probes.append(target)
        for reporter in reporters:
            while True:
                try:
                    reporter.submit([{"target": target, "scenario": "ssh-bruteforce",
                                      "at": time.time(), "events": 6}])  # fmt: skip
                    break
                except HubError as exc:
                    if exc.code == "replayed":
                        break
                    time.sleep(0.05)
        agent.wait_blocked(target)

    try:
        with running(agent):
            for stream in streams:
                stream.start()
            load.start()
            try:
                for _ in range(5):  # kill -9 of the leader, five times
                    load.progressed(200)
                    killed = leader
                    killed.kill9()
                    leader, epoch = alliance.leader(above=epoch)
                    probe()
                    killed.start()  # rejoins as a standby

                # SIGSTOP for longer than the lease: another node takes over; on SIGCONT
                # the paused node commits nothing (fenced) and follows as a standby.
                load.progressed(200)
                paused = leader
                assert paused.proc is not None
                os.kill(paused.proc.pid, signal.SIGSTOP)
                try:
                    leader, epoch = alliance.leader(above=epoch)
                    probe()
                finally:
                    os.kill(paused.proc.pid, signal.SIGCONT)
                wait(
                    lambda: (alliance.health(paused) or {}).get("role") == "standby",
                    WAIT,
                    "the paused node to follow as a standby",
                )
                assert "no longer leading" in paused.log.read_text()

                # The leader's database sessions cut: it reconnects, or another node leads.
                load.progressed(200)
                assert paused is not leader and leader.proc is not None
                assert _terminate_sessions(require_env("SHIELDWALL_TEST_PG"), leader.proc.pid) >= 1
                leader, epoch = alliance.leader(above=epoch - 1)
                load.progressed(200)
                probe()
            finally:
                load.stop()

            # Every acknowledged signal recorded exactly once, and nothing else.
            with psycopg.connect(alliance.store) as db:
                counts = db.execute(
                    "SELECT member, target, count(*) FROM signals "
                    "WHERE member IN ('alpha', 'bravo', 'charlie') GROUP BY member, target"
                ).fetchall()
                last_event = db.execute("SELECT max(id) FROM events").fetchone()
            assert [c for c in counts if c[2] != 1] == [], "a signal recorded twice"
            assert {(m, t) for m, t, _ in counts} == set(load.acked)
            assert len(load.acked) == len(set(load.acked))

            # Every member's stream: every id once, in order, across every failover.
            assert last_event is not None
            for stream in streams:
                wait(lambda s=stream: len(s.ids) >= last_event[0], WAIT, "the stream to catch up")
                stream.done.set()
                ids = list(stream.ids)
                assert ids == list(range(1, len(ids) + 1)), (
                    f"{stream.client.name}: gap or duplicate"
                )

        # Every node holds what one node replaying the records builds.
        leader, epoch = alliance.leader()
        replay = Secretariat(PostgresStore(alliance.store, lock_wait=0), time.time, HubSettings())
        try:
            expected = sorted(d.id for d in replay.active(time.time()))
            reputation = {m.name: m.reputation for m in replay.council.members()}
            for node in alliance.nodes:
                with HubClient(node.url, admin_token=alliance.token, timeout=10) as viewer:
                    wait(
                        lambda v=viewer: v.get("/healthz")["last_event_id"] >= last_event[0],
                        WAIT,
                        f"node {node.port} to catch up",
                    )
                    ids = sorted(d["id"] for d in viewer.decisions()["decisions"])
                    assert ids == expected, f"node {node.port}"
                    seen = viewer.get("/v1/reputation")["reputation"]
                    assert {n: v["reputation"] for n, v in seen.items()} == reputation
            assert len(set(probes)) == 7
        finally:
            replay.store.close()
    finally:
        for stream in streams:
            stream.close()
        for client in (*load.clients.values(), *reporters):
            client.close()


@dataclass
class _AllNodes:
    """What an agent process needs of its hub: every node's URL and the admin token."""

    url: str
    token: str
