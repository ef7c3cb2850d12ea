"""The hub keeps serving under hostile clients: a real ``hub serve`` process on loopback.

Replay storms, clients that never finish their headers, single-use stream stamps, the
per-member stream cap, the connection cap, the open-file limit, the per-source join
limit and the secretariat's rejection of applicants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shieldwall.client import HubClient, HubError
from shieldwall.procs import free_port, shieldwall_command, stop, wait_healthy
from shieldwall.signing import SigningKey

from ..waiting import wait
from .conftest import HubProcess, cli, cli_json

pytestmark = pytest.mark.e2e

MakeHub = Callable[[str], HubProcess]


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[MakeHub]:
    """A hub started with ``settings`` as its DATA/hub.toml."""
    hubs: list[HubProcess] = []

    def make(settings: str = "") -> HubProcess:
        data = tmp_path / f"hub{len(hubs)}"
        token = cli_json("hub", "init", "--data", str(data), "--template", "nato")["admin_token"]
        with open(data / "hub.toml", "a") as toml:
            toml.write(settings)
        hub = HubProcess(data, free_port(), token, tmp_path / f"hub{len(hubs)}.log")
        hubs.append(hub)
        hub.start()
        return hub

    yield make
    for hub in hubs:
        hub.stop()


Enrol = Callable[[HubProcess, list[str]], dict[str, HubClient]]


@pytest.fixture
def enrol() -> Iterator[Enrol]:
    """Admitted members' clients, closed after the test."""
    opened: list[HubClient] = []

    def make(hub: HubProcess, names: list[str]) -> dict[str, HubClient]:
        clients = {}
        with HubClient(hub.url, admin_token=hub.token) as admin:
            for i, name in enumerate(names):
                client = HubClient(hub.url, name=name, key=SigningKey.generate(), timeout=30)
                opened.append(client)
                client.join([f"192.0.2.{i + 1}"])
                admin.approve(name)
                clients[name] = client
        return clients

    yield make
    for client in opened:
        client.close()


def _stream_request(headers: dict[str, str], after: int | None = None) -> bytes:
    lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    resume = f"Last-Event-ID: {after}\r\n" if after is not None else ""
    return f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}{resume}\r\n".encode()


def _open_stream(hub: HubProcess, headers: dict[str, str]) -> tuple[socket.socket, bytes]:
    """A raw stream connection and the first bytes the hub answered."""
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=30)
    sock.sendall(_stream_request(headers))
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 200"):  # a refusal: read its whole body
        reply += _read_to_close(sock)
    return sock, reply


def _error(reply: bytes) -> dict[str, str]:
    body = reply.partition(b"\r\n\r\n")[2]
    error: dict[str, str] = json.loads(body)["error"]
    return error


def _read_to_close(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    reply = b""
    while chunk := sock.recv(4096):
        reply += chunk
    return reply


# -- replays -----------------------------------------------------------------------------


def test_a_replay_storm_does_not_stop_the_hub_answering(make_hub: MakeHub, enrol: Enrol) -> None:
    hub = make_hub("join_burst = 20\n")
    reporters = list(enrol(hub, ["reporter-a", "reporter-b"]).values())
    last = 0
    n = 0
    while last < 3000:
        targets = [f"198.18.{(n + j) // 250 % 250}.{(n + j) % 250 + 1}" for j in range(500)]
        n += 500
        for client in reporters:
            client.submit([{"target": t, "scenario": "ssh-bruteforce"} for t in targets])
        last = int(reporters[0].get("/healthz")["last_event_id"])
    # Restart: the replays now read the store, not the hub's memory.
    hub.stop()
    hub.start()
    streamers = enrol(hub, [f"streamer-{i}" for i in range(10)])
    stamps = [c.stream_headers() for c in streamers.values() for _ in range(4)]

    async def replay(headers: dict[str, str]) -> list[int]:
        reader, writer = await asyncio.open_connection("127.0.0.1", hub.port)
        writer.write(_stream_request(headers, after=0))
        data = b""
        marker = f"id: {last}\n".encode()
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(1 << 16), 60)
                assert chunk, f"stream ended early: {data[-300:]!r}"
                data += chunk
                if marker in data[-len(chunk) - len(marker) :]:
                    break
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return [int(line[4:]) for line in data.split(b"\n") if line.startswith(b"id: ")]

    async def storm() -> tuple[list[list[int]], list[int]]:
        done = False
        answers: list[int] = []

        async def probe() -> None:
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                while not done or not answers:
                    answers.append((await http.get("/healthz")).status_code)
                    await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        ids = await asyncio.gather(*(replay(h) for h in stamps))
        done = True
        await prober
        return ids, answers

    ids, answers = asyncio.run(storm())
    for got in ids:
        assert got == list(range(1, last + 1))  # every event, once, in order
    assert answers and set(answers) == {200}


# -- stamps and the stream cap -------------------------------------------------------------


def test_a_stream_stamp_opens_one_connection(make_hub: MakeHub, enrol: Enrol) -> None:
    hub = make_hub()
    alpha = enrol(hub, ["alpha"])["alpha"]
    headers = alpha.stream_headers()
    sock, reply = _open_stream(hub, headers)
    assert reply.startswith(b"HTTP/1.1 200")
    sock.close()
    sock, reply = _open_stream(hub, headers)  # the same stamp, captured and replayed
    sock.close()
    assert reply.startswith(b"HTTP/1.1 409")
    error = _error(reply)
    assert error["code"] == "replayed"
    assert "already used" in error["message"]
    sock, reply = _open_stream(hub, alpha.stream_headers())  # a fresh one is fine
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200")


def test_a_member_holds_a_bounded_number_of_streams(make_hub: MakeHub, enrol: Enrol) -> None:
    hub = make_hub("max_streams_per_member = 3\n")
    clients = enrol(hub, ["alpha", "bravo"])
    alpha = clients["alpha"]
    held = [_open_stream(hub, alpha.stream_headers()) for _ in range(3)]
    assert all(reply.startswith(b"HTTP/1.1 200") for _, reply in held)
    sock, reply = _open_stream(hub, alpha.stream_headers())
    sock.close()
    assert reply.startswith(b"HTTP/1.1 429")
    error = _error(reply)
    assert error["code"] == "too_many_streams"
    assert "already holds 3 decision streams" in error["message"]
    # Another member is not affected.
    sock, reply = _open_stream(hub, clients["bravo"].stream_headers())
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200")
    # Closing one stream frees its slot.
    held.pop()[0].close()

    def reopened() -> bool:
        sock, reply = _open_stream(hub, alpha.stream_headers())
        held.append((sock, reply))
        return reply.startswith(b"HTTP/1.1 200")

    wait(reopened, what="a stream slot freed by a closed stream")
    for sock, _ in held:
        sock.close()


def test_the_member_client_signs_each_connection_afresh(make_hub: MakeHub, enrol: Enrol) -> None:
    hub = make_hub()
    clients = enrol(hub, ["alpha", "bravo"])
    for client in clients.values():
        client.submit([{"target": "198.18.0.1", "scenario": "ssh-bruteforce"}])
    alpha = clients["alpha"]
    for _ in range(3):  # as an agent reconnecting: each connection is accepted
        events = alpha.stream(after=0, timeout=30)
        assert next(events).id == 1  # accepted, and replaying from the start
        events.close()


# -- slow clients and the connection cap ---------------------------------------------------


def test_clients_that_never_finish_their_headers_are_cut_off(make_hub: MakeHub) -> None:
    hub = make_hub("header_timeout = 1.0\n")
    slow = []
    for i in range(20):
        sock = socket.create_connection(("127.0.0.1", hub.port), timeout=60)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * i)
        slow.append(sock)
    # A normal client is served meanwhile.
    assert httpx.get(f"{hub.url}/healthz", timeout=30).status_code == 200
    for sock in slow:
        reply = _read_to_close(sock)  # returns once the hub closes the connection
        sock.close()
        assert reply.startswith(b"HTTP/1.1 408")
        assert _error(reply)["code"] == "request_timeout"
    # After a response, a keep-alive connection gets the same time for its next headers.
    sock = socket.create_connection(("127.0.0.1", hub.port), timeout=60)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\n")
    reply = _read_to_close(sock)
    sock.close()
    assert reply.startswith(b"HTTP/1.1 200")
    assert b"HTTP/1.1 408" in reply
    assert hub.proc is not None and hub.proc.poll() is None


def test_connections_over_the_cap_are_refused(make_hub: MakeHub) -> None:
    hub = make_hub("max_connections = 4\nheader_timeout = 60.0\n")
    idle = [socket.create_connection(("127.0.0.1", hub.port), timeout=60) for _ in range(4)]

    def refused() -> bool:
        with socket.create_connection(("127.0.0.1", hub.port), timeout=60) as sock:
            reply = _read_to_close(sock)
        return reply.startswith(b"HTTP/1.1 503")

    wait(refused, what="a connection over max_connections refused")
    with socket.create_connection(("127.0.0.1", hub.port), timeout=60) as sock:
        assert _error(_read_to_close(sock))["code"] == "too_many_connections"
    idle.pop().close()
    wait(
        lambda: httpx.get(f"{hub.url}/healthz", timeout=30).status_code == 200,
        what="a connection slot freed",
    )
    for sock in idle:
        sock.close()


def test_an_open_file_limit_too_low_is_said_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    cli("hub", "init", "--data", str(data), "--template", "nato")
    port = free_port()
    log = tmp_path / "hub.log"

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    with open(log, "ab") as out:
        proc = subprocess.Popen(
            shieldwall_command(
                "hub", "serve", "--data", str(data), "--listen", f"127.0.0.1:{port}"
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=low_limit,
            start_new_session=True,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        text = " ".join(log.read_text().split())
        assert "open-file limit 256 is below the 4160 that max_connections 4096 needs" in text
        assert f"serving at most {256 - 64} connections" in text
    finally:
        stop(proc)


# -- joins ---------------------------------------------------------------------------------


def test_one_source_cannot_lock_out_a_real_applicant(make_hub: MakeHub) -> None:
    hub = make_hub("join_burst = 5\n")
    flood = 0
    with pytest.raises(HubError) as refused:
        while True:
            with HubClient(hub.url, name=f"spam-{flood}", key=SigningKey.generate()) as spam:
                spam.join([f"198.51.100.{flood + 1}"])
            flood += 1
    assert flood == 5
    assert refused.value.status == 429
    assert refused.value.code == "too_many_joins"
    # An applicant from another address is not held back by the flood.
    other = httpx.Client(base_url=hub.url, transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with HubClient(hub.url, name="real", key=SigningKey.generate(), http=other) as real:
        assert real.join(["192.0.2.200"])["status"] == "pending"
    # The secretariat clears the queue of the flood.
    admin = ("--hub", hub.url, "--admin-token", hub.token)
    result = cli_json("members", "reject", "spam-0", *admin)
    assert result["status"] == "rejected"
    again = cli("members", "reject", "spam-0", *admin, check=False)
    assert again.returncode != 0
    assert "only applicants can be rejected" in again.stderr
    hub.stop()
    hub.start()  # the rejection is a recorded input
    with HubClient(hub.url, admin_token=hub.token) as secretariat:
        members = {m["name"]: m["status"] for m in secretariat.members()["members"]}
    assert members["spam-0"] == "rejected"
    assert members["real"] == "pending"
