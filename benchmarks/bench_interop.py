"""CrowdSec bouncer API: ``startup=true`` latency with 100,000 active decisions, ours
side by side with CrowdSec's own Local API, measured in the same run.

Three set-ups, pulled with the same client code and the same bouncer key:

- ``memsource_*``: our bouncer API alone over an in-memory source, through ASGI and
  over loopback HTTP.
- ``crowdsec_lapi_*``: CrowdSec's Local API (``crowdsec -no-cs``, the Debian package
  that ``scripts/bench-deps.sh`` installs) with a private config, sqlite database and
  port in a temporary directory; 100,000 decisions loaded with ``cscli decisions
  import``, pulled over loopback HTTP. Skipped with a note when CrowdSec is not installed.
- ``realhub_*``: a ``shieldwall hub serve`` process whose 100,000 decisions were made
  by the council, two members reporting the same targets in batches of 5,000, pulled
  over loopback HTTP; then the same data directory opened in-process (replay
  included) and pulled through ASGI.

Run: ``python -m benchmarks interop``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette

from shieldwall.client import HubClient
from shieldwall.core.model import Decision
from shieldwall.core.treaty import template_text
from shieldwall.hub.app import create_app, open_secretariat
from shieldwall.hub.setup import init_hub
from shieldwall.interop.crowdsec import crowdsec_routes
from shieldwall.interop.keys import MemoryBouncerKeys, SQLiteBouncerKeys, bouncers_path
from shieldwall.interop.mount import interop_routes
from shieldwall.interop.source import MemorySource
from shieldwall.procs import free_port, start_hub, stop
from shieldwall.signing import SigningKey

N = 100_000
KEY = "bench-key-" + "0" * 32
ROUNDS = 5
BATCH = 5_000
SCENARIO = "ssh-bruteforce"

Figures = dict[str, float | str]


def target(i: int) -> str:
    """The i-th benchmark target: addresses, and a /24 range every 50th."""
    if i % 50 == 0:
        j = i // 50  # distinct /24s up to 4,096 ranges
        return f"172.{16 + (j >> 8) % 16}.{j & 255}.0/24"
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def build(n: int = N) -> tuple[Starlette, float]:
    now = time.time()
    source = MemorySource()
    for i in range(n):
        target_ = target(i)
        source.add(
            Decision(
                i + 1,
                target_,
                "range" if "/" in target_ else "ip",
                "ban",
                SCENARIO,
                "art5.quorum",
                ("alpha", "bravo"),
                now - 60,
                now + 4 * 3600 + i % 3600,
            )
        )
    keys = MemoryBouncerKeys()
    keys.add("bench", KEY, now)
    return Starlette(routes=crowdsec_routes(source, keys)), now


async def _asgi_pulls(app: Starlette, rounds: int, n: int = N) -> list[float]:
    times = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
        for _ in range(rounds):
            t = time.perf_counter()
            r = await c.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": KEY})
            r.raise_for_status()
            body = r.json()
            times.append(time.perf_counter() - t)
            if len(body["new"]) != n:
                raise RuntimeError(f"expected {n} decisions, got {len(body['new'])}")
    return times


# -- the bouncer's side: the same client code for every server --------------------------


def _http_pulls(url: str, rounds: int, n: int) -> tuple[list[float], int]:
    """Seconds of each ``startup=true`` pull over HTTP, and the body size in bytes.

    The body is checked for ``n`` decisions after the clock stops."""
    times: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as c:
        for _ in range(rounds):
            t = time.perf_counter()
            r = c.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": KEY})
            r.raise_for_status()
            body = r.content
            times.append(time.perf_counter() - t)
    got = len(json.loads(body)["new"] or ())
    if got != n:
        raise RuntimeError(f"{url} sent {got} decisions on startup, expected {n}")
    return times, len(body)


def _delta_pulls(url: str, add_one: Callable[[int], None], rounds: int) -> tuple[float, float]:
    """Median seconds of a bouncer's ``startup=false`` pull with nothing new, and with
    one new decision (``add_one(i)`` makes the i-th, untimed)."""
    empty, one = [], []
    with httpx.Client(base_url=url, timeout=60, headers={"X-Api-Key": KEY}) as c:
        delta = "/v1/decisions/stream?startup=false"
        c.get(delta).raise_for_status()
        for i in range(rounds):
            t = time.perf_counter()
            c.get(delta).raise_for_status()
            empty.append(time.perf_counter() - t)
            add_one(i)
            t = time.perf_counter()
            r = c.get(delta)
            one.append(time.perf_counter() - t)
            if len(r.json()["new"] or ()) != 1:
                raise RuntimeError(f"expected one new decision in the delta: {r.text[:200]}")
    return statistics.median(empty), statistics.median(one)


def _pull_figures(prefix: str, pulls: list[float], size: int) -> Figures:
    return {
        f"{prefix}_startup_100k_http_first_s": round(pulls[0], 3),
        f"{prefix}_startup_100k_http_median_s": round(statistics.median(pulls), 3),
        f"{prefix}_startup_100k_http_max_s": round(max(pulls), 3),
        f"{prefix}_startup_100k_body_mb": round(size / 1e6, 2),
    }


def _delta_figures(prefix: str, empty: float, one: float) -> Figures:
    return {
        f"{prefix}_delta_nothing_new_http_median_s": round(empty, 4),
        f"{prefix}_delta_one_new_http_median_s": round(one, 4),
    }


def _new_target(i: int) -> str:
    """The i-th address added between delta pulls (outside the 100,000)."""
    return f"198.18.0.{i + 1}"


# -- our bouncer API over an in-memory source --------------------------------------------


def _loopback_pulls(app: Starlette, rounds: int, n: int) -> tuple[list[float], int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        return _http_pulls(f"http://127.0.0.1:{port}", rounds, n)
    finally:
        server.should_exit = True
        thread.join(10)


def memory_source(n: int = N, rounds: int = ROUNDS) -> Figures:
    app, _ = build(n)
    asgi = asyncio.run(_asgi_pulls(app, rounds, n))
    loop, size = _loopback_pulls(app, rounds, n)
    return {
        "memsource_startup_100k_asgi_first_s": round(asgi[0], 3),
        "memsource_startup_100k_asgi_median_s": round(statistics.median(asgi), 3),
        "memsource_startup_100k_http_median_s": round(statistics.median(loop), 3),
        "memsource_startup_100k_http_max_s": round(max(loop), 3),
        "memsource_startup_100k_body_mb": round(size / 1e6, 2),
    }


# -- CrowdSec's own Local API ------------------------------------------------------------

# A private instance: its own database, logs and port; no online API (no
# ``online_client``), no console, no metrics listener, no plugins.
CROWDSEC_CONFIG = """\
common:
  daemonize: false
  log_media: file
  log_level: warning
  log_dir: {tmp}/log/
  working_dir: {tmp}
config_paths:
  config_dir: {tmp}/
  data_dir: {tmp}/data/
  simulation_path: {tmp}/simulation.yaml
  hub_dir: {tmp}/hub/
  index_path: {tmp}/hub/.index.json
  notification_dir: {tmp}/notifications/
  plugin_dir: {tmp}/plugins/
crowdsec_service:
  acquisition_path: {tmp}/acquis.yaml
cscli:
  output: human
  color: "no"
db_config:
  log_level: warning
  type: sqlite
  db_path: {tmp}/data/crowdsec.db
  use_wal: true
api:
  client:
    credentials_path: {tmp}/local_api_credentials.yaml
  server:
    log_level: warning
    listen_uri: 127.0.0.1:{port}
    profiles_path: {tmp}/profiles.yaml
    trusted_ips:
      - 127.0.0.1
prometheus:
  enabled: false
"""

CROWDSEC_PROFILES = """\
name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: as root, run bash scripts/bench-deps.sh")
    return path


def crowdsec_version() -> str:
    """``v1.4.6-…`` as the installed ``crowdsec -version`` reports it."""
    out = subprocess.run(
        [_tool("crowdsec"), "-version"], capture_output=True, text=True, timeout=30
    )
    for line in (out.stdout + out.stderr).splitlines():
        if "version:" in line and "Constraint" not in line:
            return line.split("version:", 1)[1].strip()
    return "unknown"


def _cscli(config: Path, *args: str) -> None:
    done = subprocess.run(
        [_tool("cscli"), "-c", str(config), "--error", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode:
        # Only the sub-command is named: the arguments may hold the bouncer key.
        raise RuntimeError(f"cscli {' '.join(args[:2])} exited {done.returncode}: {done.stderr}")


def _crowdsec_setup(tmp: Path, port: int) -> Path:
    """A private config in ``tmp`` with a machine (for cscli) and our bouncer key."""
    for sub in ("data", "log", "hub", "notifications", "plugins"):
        (tmp / sub).mkdir()
    (tmp / "profiles.yaml").write_text(CROWDSEC_PROFILES)
    (tmp / "simulation.yaml").write_text("simulation: off\n")
    config = tmp / "config.yaml"
    config.write_text(CROWDSEC_CONFIG.format(tmp=tmp, port=port))
    credentials = str(tmp / "local_api_credentials.yaml")
    _cscli(config, "machines", "add", "bench", "--auto", "-f", credentials)
    _cscli(config, "bouncers", "add", "bench", "-k", KEY)
    return config


def _start_crowdsec(config: Path, tmp: Path, url: str) -> subprocess.Popen[bytes]:
    """``crowdsec -no-cs`` (the Local API only); waits until it answers HTTP."""
    with open(tmp / "log" / "stdout.log", "ab") as out:
        proc = subprocess.Popen(
            [_tool("crowdsec"), "-c", str(config), "-no-cs"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            logs = "".join(p.read_text(errors="replace") for p in (tmp / "log").glob("*.log"))
            raise RuntimeError(f"crowdsec exited with code {proc.returncode}: {logs[-2000:]}")
        try:
            httpx.get(url + "/", timeout=1)  # any answer (404) means it is listening
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"crowdsec's Local API at {url} did not answer in 60 s")


def _crowdsec_load(config: Path, tmp: Path, n: int) -> float:
    """Import the same ``n`` targets with cscli; seconds it took.

    CrowdSec 1.4's import takes the scope from ``--scope`` only, so addresses and
    ranges go in two files."""
    targets = [target(i) for i in range(n)]
    files = {
        "Ip": [t for t in targets if "/" not in t],
        "Range": [t for t in targets if "/" in t],
    }
    for scope, values in files.items():
        (tmp / f"{scope}.csv").write_text("duration,value\n" + "".join(f"4h,{v}\n" for v in values))
    started = time.perf_counter()
    for scope in files:
        path = str(tmp / f"{scope}.csv")
        _cscli(
            config, "decisions", "import", "-i", path, "--scope", scope, "-R", SCENARIO, "-t", "ban"
        )
    return time.perf_counter() - started


def crowdsec_lapi(n: int = N, rounds: int = ROUNDS) -> Figures:
    """CrowdSec's Local API with the same ``n`` targets, pulled the same way as ours."""
    with tempfile.TemporaryDirectory(prefix="sw-bench-crowdsec-") as tmp_:
        tmp = Path(tmp_)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        config = _crowdsec_setup(tmp, port)
        proc = _start_crowdsec(config, tmp, url)
        try:
            load_s = _crowdsec_load(config, tmp, n)
            pulls, size = _http_pulls(url, rounds, n)

            def add_one(i: int) -> None:
                _cscli(
                    config, "decisions", "add", "--ip", _new_target(i), "-d", "4h", "-R", SCENARIO
                )

            delta = _delta_pulls(url, add_one, rounds)
        finally:
            stop(proc, timeout=30)
    return {
        "crowdsec_lapi_version": crowdsec_version(),
        "crowdsec_lapi_import_100k_s": round(load_s, 1),
        **_pull_figures("crowdsec_lapi", pulls, size),
        **_delta_figures("crowdsec_lapi", *delta),
    }


# -- our real hub ------------------------------------------------------------------------


def _enrol(url: str, token: str) -> list[HubClient]:
    members = []
    with HubClient(url, admin_token=token, timeout=120) as admin:
        for name, address in (("alpha", "192.0.2.10"), ("bravo", "192.0.2.20")):
            client = HubClient(url, name=name, key=SigningKey.generate(), timeout=120)
            client.join([address])
            admin.approve(name)
            members.append(client)
    return members


def _report(members: list[HubClient], targets: list[str]) -> int:
    """Every member reports ``targets``; how many decisions that made."""
    at = time.time()
    batch = [{"target": t, "scenario": SCENARIO, "at": at} for t in targets]
    return sum(len(client.submit(batch)["decisions"]) for client in members)


def _council_decides(members: list[HubClient], n: int) -> float:
    """Two members report the same ``n`` targets in batches; seconds it took."""
    started = time.perf_counter()
    decided = 0
    for start in range(0, n, BATCH):
        decided += _report(members, [target(i) for i in range(start, min(n, start + BATCH))])
    if decided != n:
        raise RuntimeError(f"the council made {decided} decisions, expected {n}")
    return time.perf_counter() - started


def real_hub(n: int = N, rounds: int = ROUNDS) -> Figures:
    """The real hub: decisions made by the council, pulled over loopback and in-process."""
    with tempfile.TemporaryDirectory(prefix="sw-bench-interop-") as tmp:
        data = Path(tmp) / "hub"
        token = init_hub(data, template_text("nato"), "nato")
        keys = SQLiteBouncerKeys(bouncers_path(data))
        keys.add("bench", KEY, time.time())
        keys.close()
        port = free_port()
        proc = start_hub(data, port, Path(tmp) / "hub.log")
        url = f"http://127.0.0.1:{port}"
        members: list[HubClient] = []

        def add_one(i: int) -> None:
            if _report(members, [_new_target(i)]) != 1:
                raise RuntimeError("expected one new decision")

        try:
            members += _enrol(url, token)
            decide_s = _council_decides(members, n)
            pulls, size = _http_pulls(url, rounds, n)
            delta = _delta_pulls(url, add_one, rounds)
        finally:
            for client in members:
                client.close()
            stop(proc)
        started = time.perf_counter()
        sec = open_secretariat(data)
        replay_s = time.perf_counter() - started
        try:
            app = create_app(sec, extra_routes=interop_routes(sec, data), ticker=False)
            asgi = asyncio.run(_asgi_pulls(app, rounds, n + rounds))
        finally:
            sec.store.close()
    return {
        "realhub_council_100k_decisions_s": round(decide_s, 1),
        **_pull_figures("realhub", pulls, size),
        **_delta_figures("realhub", *delta),
        "realhub_replay_s": round(replay_s, 2),
        "realhub_startup_100k_asgi_first_s": round(asgi[0], 3),
        "realhub_startup_100k_asgi_median_s": round(statistics.median(asgi), 3),
    }


def run() -> Figures:
    figures = memory_source()
    if shutil.which("crowdsec") and shutil.which("cscli"):
        figures |= crowdsec_lapi()
    else:
        print(
            "   note: crowdsec/cscli not installed, CrowdSec's Local API not measured "
            "(as root: bash scripts/bench-deps.sh)",
            flush=True,
        )
    return figures | real_hub()


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
