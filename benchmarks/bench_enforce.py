"""Enforcement speed: 100,000 decisions into nftables, then one new decision.

Runs inside a throw-away network namespace (root and ``nft`` needed); the host's own
firewall is never touched. Figures (seconds unless named otherwise):

* ``policy_filter_100k_s``: local policy over 100,000 decisions
* ``nft_sync_100k_s``: full atomic load of the table (script build + ``nft -f``)
* ``policy_plus_nft_sync_100k_s``: both, what an agent start costs
* ``nft_add_host_s`` / ``nft_add_range_s``: one new decision, median of repeats
* ``nft_revoke_host_s``: one revocation, median
* ``ipset_sync_100k_s`` / ``ipset_add_host_s``: the same for ipset, when installed
"""

from __future__ import annotations

import ipaddress
import os
import random
import shutil
import statistics
import subprocess
import time

from shieldwall.agent.enforce.base import CommandRunner, Entry
from shieldwall.agent.enforce.ipset import IpsetConfig, IpsetEnforcer
from shieldwall.agent.enforce.nftables import NftablesEnforcer, NftConfig
from shieldwall.agent.policy import load_policy
from shieldwall.core.model import Decision, Scope

TOTAL = 100_000
REPEATS = 15


def decisions(now: float, total: int = TOTAL, seed: int = 7) -> list[Decision]:
    """70% IPv4 hosts, 20% IPv6 hosts, 8% IPv4 ranges (some nested), 2% IPv6 /64s."""
    rng = random.Random(seed)
    targets: set[str] = set()
    out: list[Decision] = []

    def add(target: str, scope: Scope) -> None:
        if target in targets:
            return
        targets.add(target)
        life = rng.uniform(3600, 7 * 86400)
        out.append(
            Decision(
                len(out) + 1,
                target,
                scope,
                "ban",
                "ssh-bruteforce",
                "art5.quorum",
                ("a", "b"),
                now - 60,
                now + life,
            )
        )

    while len(out) < total * 0.70:
        add(str(ipaddress.IPv4Address(rng.randrange(0x0B000000, 0xDF000000))), "ip")
    while len(out) < total * 0.90:
        add(str(ipaddress.IPv6Address((0x20010DB8 << 96) | rng.getrandbits(80))), "ip")
    while len(out) < total * 0.98:
        base = rng.randrange(0x0B0000, 0xDF0000) << 8
        prefix = 16 if rng.random() < 0.02 else 24
        base &= ~((1 << (32 - prefix)) - 1)
        add(f"{ipaddress.IPv4Address(base)}/{prefix}", "range")
    while len(out) < total:
        add(
            f"{ipaddress.IPv6Address((0x20010DB9 << 96) | (rng.getrandbits(32) << 64))}/64", "range"
        )
    return out


def _median_apply(enforcer: NftablesEnforcer | IpsetEnforcer, make: list[Entry]) -> float:
    times = []
    for entry in make:
        start = time.perf_counter()
        enforcer.apply([entry], [])
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> dict[str, float]:
    if os.geteuid() != 0 or shutil.which("nft") is None:
        raise RuntimeError("bench_enforce needs root and nft (run scripts/system-deps.sh as root)")
    now = time.time()
    policy = load_policy({}, member="bench", own_addresses=["192.0.2.1"])
    batch = decisions(now)
    start = time.perf_counter()
    entries, refused = policy.filter(batch, now)
    figures: dict[str, float] = {"policy_filter_100k_s": time.perf_counter() - start}
    figures["entries"] = len(entries)
    figures["refused"] = len(refused)
    ns = f"sw-bench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        runner = CommandRunner(prefix=("ip", "netns", "exec", ns))
        nft = NftablesEnforcer(NftConfig(allow=policy.protected), runner=runner)
        start = time.perf_counter()
        nft.sync(entries)
        figures["nft_sync_100k_s"] = time.perf_counter() - start
        figures["policy_plus_nft_sync_100k_s"] = (
            figures["policy_filter_100k_s"] + figures["nft_sync_100k_s"]
        )
        later = time.time() + 3600
        hosts = [Entry(f"198.18.0.{i}", "ip", later, 10_000_000 + i) for i in range(REPEATS)]
        figures["nft_add_host_s"] = _median_apply(nft, hosts)
        ranges = [Entry(f"198.19.{i}.0/24", "range", later, 20_000_000 + i) for i in range(REPEATS)]
        figures["nft_add_range_s"] = _median_apply(nft, ranges)
        times = []
        for entry in hosts:
            start = time.perf_counter()
            nft.apply([], [entry])
            times.append(time.perf_counter() - start)
        figures["nft_revoke_host_s"] = statistics.median(times)
        if shutil.which("ipset") and shutil.which("iptables"):
            ips = IpsetEnforcer(IpsetConfig(allow=policy.protected), runner=runner)
            start = time.perf_counter()
            ips.sync(entries)
            figures["ipset_sync_100k_s"] = time.perf_counter() - start
            figures["ipset_add_host_s"] = _median_apply(ips, hosts)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    return figures


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name:24} {value:.4f}" if isinstance(value, float) else f"{name:24} {value}")
