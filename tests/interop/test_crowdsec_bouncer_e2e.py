"""The real crowdsec-firewall-bouncer enforces a real hub's decisions in a network namespace.

Namespace "hub" runs ``shieldwall hub serve`` and the real bouncer in nftables mode;
namespace "peer" is the attacker, joined by a veth pair. Two members join, are
approved and report the peer through :class:`HubClient` (run inside the namespace,
where the hub listens); their quorum makes a decision, the bouncer drops the peer's
traffic; the secretariat revokes it and the peer gets through again.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shieldwall.cli import main
from shieldwall.core.treaty import template_text
from shieldwall.hub.setup import init_hub
from shieldwall.procs import shieldwall_command
from tests.conftest import require_root, require_tool

from .conftest import wait_for

pytestmark = [pytest.mark.netns, pytest.mark.e2e]

HUB_ADDR, PEER_ADDR = "10.251.0.1", "10.251.0.2"
PORT = 8470


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def namespaces() -> Iterator[tuple[str, str]]:
    require_root()
    require_tool("ip")
    require_tool("nft")
    tag = secrets.token_hex(3)
    hub, peer = f"sw-test-{tag}-h", f"sw-test-{tag}-p"
    sh("ip", "netns", "add", hub)
    sh("ip", "netns", "add", peer)
    try:
        sh(
            "ip",
            "-n",
            hub,
            "link",
            "add",
            "vh",
            "type",
            "veth",
            "peer",
            "name",
            "vp",
            "netns",
            peer,
        )
        for ns, dev, addr in ((hub, "vh", HUB_ADDR), (peer, "vp", PEER_ADDR)):
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        yield hub, peer
    finally:
        sh("ip", "netns", "del", peer, check=False)
        sh("ip", "netns", "del", hub, check=False)


def reachable(peer: str) -> bool:
    """Whether the peer can open a TCP connection to the hub namespace."""
    probe = f"import socket; socket.create_connection(({HUB_ADDR!r}, {PORT}), 1).close()"
    r = sh("ip", "netns", "exec", peer, sys.executable, "-c", probe, check=False)
    return r.returncode == 0


def bouncer_set(hub: str) -> subprocess.CompletedProcess[str]:
    """``nft list set`` of the set the bouncer fills (fails until it exists)."""
    return sh(
        "ip", "netns", "exec", hub, "nft", "list", "set", "ip", "crowdsec", "crowdsec-blacklists",
        check=False,
    )  # fmt: skip


def blacklisted(hub: str, addr: str) -> bool:
    r = bouncer_set(hub)
    return r.returncode == 0 and addr in r.stdout


# Runs inside the hub's namespace (the hub listens there): the members' and the
# secretariat's side, through HubClient. One JSON argument; prints a JSON result.
DRIVER = """
import json, sys, time
from pathlib import Path
from shieldwall.client import HubClient
from shieldwall.signing import SigningKey

a = json.loads(sys.argv[1])
url = a["url"]
if a["op"] == "enrol":
    with HubClient(url, admin_token=a["token"]) as admin:
        for name, address, keyfile in a["members"]:
            key = SigningKey.generate()
            key.save(Path(keyfile))
            with HubClient(url, name=name, key=key) as member:
                member.join([address])
            admin.approve(name)
    print("[]")
elif a["op"] == "report":
    decided = []
    for name, _address, keyfile in a["members"]:
        with HubClient(url, name=name, key=SigningKey.load(Path(keyfile))) as member:
            signal = {"target": a["target"], "scenario": "ssh-bruteforce", "at": time.time()}
            decided = member.submit([signal])["decisions"]
    print(json.dumps(decided))
elif a["op"] == "revoke":
    with HubClient(url, admin_token=a["token"]) as admin:
        admin.revoke(a["id"], "false positive")
    print("[]")
"""


def test_real_bouncer_drops_banned_peer_and_lets_it_back_after_revocation(
    namespaces: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bouncer_bin = require_tool("crowdsec-firewall-bouncer")
    hub, peer = namespaces
    data = tmp_path / "hub"
    token = init_hub(data, template_text("nato"), "nato")
    assert main(["bouncers", "add", "firewall", "--data", str(data), "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["api_key"]
    url = f"http://127.0.0.1:{PORT}"
    members = [
        ("alpha", "192.0.2.10", str(tmp_path / "alpha.key")),
        ("bravo", "192.0.2.20", str(tmp_path / "bravo.key")),
    ]

    def drive(op: str, **kw: object) -> list[int]:
        args = json.dumps({"op": op, "url": url, "token": token, "members": members, **kw})
        r = sh("ip", "netns", "exec", hub, sys.executable, "-c", DRIVER, args, check=False)
        assert r.returncode == 0, f"{op} failed: {r.stderr[-2000:]}"
        decided: list[int] = json.loads(r.stdout)
        return decided

    hub_log = tmp_path / "hub.log"
    with open(hub_log, "ab") as log_file:
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                hub,
                *shieldwall_command(
                    "hub", "serve", "--data", str(data), "--listen", f"0.0.0.0:{PORT}"
                ),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    config = tmp_path / "bouncer.yaml"
    config.write_text(
        "mode: nftables\n"
        f"pid_dir: {tmp_path}\n"
        "update_frequency: 1s\n"
        "daemonize: false\n"
        "log_mode: file\n"
        f"log_dir: {tmp_path}\n"
        "log_level: debug\n"
        f"api_url: {url}/\n"
        f"api_key: {key}\n"
        "disable_ipv6: true\n"
        "deny_action: DROP\n"
        "deny_log: false\n"
        "supported_decisions_types:\n  - ban\n"
        "nftables:\n"
        "  ipv4:\n    enabled: true\n    set-only: false\n    table: crowdsec\n"
        "    chain: crowdsec-chain\n"
        "  ipv6:\n    enabled: false\n    set-only: false\n    table: crowdsec6\n"
        "    chain: crowdsec6-chain\n"
        "prometheus:\n  enabled: false\n  listen_addr: 127.0.0.1\n  listen_port: 60601\n"
    )
    config.chmod(0o600)
    bouncer = None
    healthz = f"import httpx; httpx.get({url + '/healthz'!r}, timeout=1).raise_for_status()"
    try:
        wait_for(
            "the hub to answer in its namespace",
            lambda: (
                server.poll() is None
                and sh(
                    "ip", "netns", "exec", hub, sys.executable, "-c", healthz, check=False
                ).returncode
                == 0
            ),
        )
        drive("enrol")
        bouncer = subprocess.Popen(
            ["ip", "netns", "exec", hub, bouncer_bin, "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for("the bouncer's nftables set", lambda: bouncer_set(hub).returncode == 0)
        wait_for("the peer to get through before any decision", lambda: reachable(peer))

        (banned,) = drive("report", target=PEER_ADDR)
        decided = time.monotonic()
        wait_for("the ban to reach nftables", lambda: blacklisted(hub, PEER_ADDR))
        # A figure for the record (the bouncer polls every second), never an assertion.
        print(f"decision to nftables: {time.monotonic() - decided:.2f} s")
        # (Ranges are not used here: this bouncer's nftables mode keeps only a range's
        # first address; see docs/interop.md.)
        (other,) = drive("report", target="203.0.113.9")
        assert banned != other
        wait_for("the second ban to reach nftables", lambda: blacklisted(hub, "203.0.113.9"))
        assert not reachable(peer), "traffic from a banned address must be dropped"

        drive("revoke", id=banned)
        wait_for("the revocation to reach nftables", lambda: not blacklisted(hub, PEER_ADDR))
        assert blacklisted(hub, "203.0.113.9"), "other decisions stay"
        wait_for("the peer to get through again", lambda: reachable(peer))
    finally:
        outputs = []
        for proc in (bouncer, server):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
            try:
                out, _ = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            outputs.append((out or "")[-3000:])
        print(*outputs, sep="\n")
        print(hub_log.read_text(errors="replace")[-3000:])
        for log in tmp_path.glob("*.log"):
            print(log.read_text(errors="replace")[-3000:])
