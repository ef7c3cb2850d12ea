"""Sources counted per prefix as well as per address, in both detection engines: an
attacker rotating through the addresses of its /64 is reported as the /64."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.detect import DetectConfig, DetectionEngine, load_config
from shieldwall.agent.detect.buckets import BucketTable
from shieldwall.agent.detect.fail2ban import FilterDetector, FilterRule
from shieldwall.agent.detect.prefixes import count_prefixes
from shieldwall.cli import main
from shieldwall.interop.fail2ban.filter import load_filter
from tests.agent.test_jails import JAIL_LOCAL, load, tree

NOW = time.mktime((2026, 12, 7, 12, 0, 0, 0, 0, -1))
SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")
ROTATING = [f"2001:db8:7:64::{i:x}" for i in range(1, 6)]  # five addresses of one /64


def auth_log(sources: list[str]) -> bytes:
    """sshd failures, one a second, from ``sources`` in turn (a generated auth.log)."""
    return b"".join(
        f"Dec  7 05:00:{i:02d} web1 sshd[{100 + i}]: Failed password for root from {ip} "
        f"port {40000 + i} ssh2\n".encode()
        for i, ip in enumerate(sources)
    )


def offenders_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["agent", "replay", *args, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    return [r["offender"] for r in rows if "offender" in r]


@pytest.mark.parametrize(
    ("sources", "flags", "expected"),
    [
        pytest.param(ROTATING, [], ["2001:db8:7:64::/64"], id="five-addresses-name-the-64"),
        pytest.param(["2001:db8:7:64::9"] * 5, [], ["2001:db8:7:64::9"], id="one-address-alone"),
        pytest.param(ROTATING, ["--prefix-v6", "128"], [], id="per-address-only-misses-it"),
        pytest.param(
            [f"2001:db8:7:{i}::1" for i in range(5)],
            ["--prefix-v6", "56"],
            ["2001:db8:7::/56"],
            id="five-64s-of-one-56",
        ),
        pytest.param(
            [f"203.0.113.{i}" for i in range(5)], [], [], id="ipv4-per-address-by-default"
        ),
        pytest.param(
            [f"203.0.113.{i}" for i in range(5)],
            ["--prefix-v4", "24"],
            ["203.0.113.0/24"],
            id="ipv4-per-24-when-asked",
        ),
    ],
)
@pytest.mark.parametrize("engine", ["scenario", "fail2ban-filter"])
def test_replay_names_the_prefix_when_several_of_its_addresses_failed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine: str,
    sources: list[str],
    flags: list[str],
    expected: list[str],
) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes(auth_log(sources))
    if engine == "scenario":
        chosen = ["--scenario", "ssh-bruteforce"]
    else:
        if not SSHD.is_file():
            pytest.skip(f"{SSHD} is not installed (scripts/system-deps.sh installs fail2ban)")
        chosen = ["--fail2ban-filter", str(SSHD)]
    assert offenders_of([str(log), *chosen, *flags], capsys) == expected


def engine_offenders(config: DetectConfig, sources: list[str]) -> list[str]:
    engine = DetectionEngine(config.only(["ssh-bruteforce"]))
    return [o.source for o in engine.feed(auth_log(sources), NOW)]


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        pytest.param(
            ["2001:db8::a"] * 4 + ["2001:db8::b"], ["2001:db8::/64"], id="four-and-one-make-the-64"
        ),
        pytest.param(
            ["2001:db8::a"] * 5 + ["2001:db8::b"] * 5,
            ["2001:db8::a", "2001:db8::b"],
            id="two-lone-offenders-stay-addresses",
        ),
        pytest.param(
            ["::ffff:203.0.113.9"] * 5, ["203.0.113.9"], id="ipv4-mapped-is-the-ipv4-attacker"
        ),
        pytest.param(
            ["[2001:db8::1]", "2001:DB8::2", "2001:db8::3", "2001:db8::4", "2001:db8::5"],
            ["2001:db8::/64"],
            id="any-spelling",
        ),
    ],
)
def test_engine_counts_per_prefix_and_per_address(sources: list[str], expected: list[str]) -> None:
    assert engine_offenders(DetectConfig(), sources) == expected


def test_per_scenario_prefix_length_from_the_detect_table() -> None:
    config = load_config({"scenarios": {"ssh-bruteforce": {"prefix_v6": 48, "count": 5,
                                                          "window": 600}}})  # fmt: skip
    assert config.thresholds["ssh-bruteforce"].prefix_v6 == 48
    assert config.thresholds["ssh-preauth"].prefix_v6 == 64  # the default elsewhere
    sources = [f"2001:db8:0:{i:x}00::1" for i in range(5)]  # five /56s of one /48
    assert engine_offenders(config, sources) == ["2001:db8::/48"]
    assert engine_offenders(DetectConfig(), sources) == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        pytest.param(
            {"prefix_v6": 16},
            "detect.scenarios.ssh-bruteforce.prefix_v6 = 16 is not a prefix length from 32 to 128",
            id="v6-too-wide",
        ),
        pytest.param(
            {"prefix_v4": 33},
            "detect.scenarios.ssh-bruteforce.prefix_v4 = 33 is not a prefix length from 16 to 32",
            id="v4-too-long",
        ),
        pytest.param(
            {"prefix_v6": "64"},
            "detect.scenarios.ssh-bruteforce.prefix_v6 = '64' is not a prefix length",
            id="v6-string",
        ),
        pytest.param(
            {"prefix_v6": True},
            "ssh-bruteforce.prefix_v6 = True is not a prefix length",
            id="v6-bool",
        ),
        pytest.param({"prefix": 64}, "unknown key 'prefix'", id="unknown-key"),
    ],
)
def test_bad_prefix_lengths_are_refused_by_name(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        load_config({"scenarios": {"ssh-bruteforce": table}})
    assert message in str(info.value)


def test_only_keeps_the_prefix_lengths() -> None:
    config = load_config({"scenarios": {"ssh-bruteforce": {"prefix_v6": 56, "prefix_v4": 24}}})
    kept = config.only(["ssh-bruteforce"]).thresholds["ssh-bruteforce"]
    assert (kept.prefix_v6, kept.prefix_v4, kept.enabled) == (56, 24, True)


def test_a_jail_sets_its_prefix_lengths(tmp_path: Path) -> None:
    root = tree(tmp_path, jail_local=JAIL_LOCAL + "prefix_v6 = 56\nprefix_v4 = 24\n")
    [source] = load(root)
    assert (source.rule.prefix_v6, source.rule.prefix_v4) == (56, 24)
    [default] = load(tree(tmp_path / "default"))
    assert (default.rule.prefix_v6, default.rule.prefix_v4) == (64, 32)


def test_a_bad_jail_prefix_length_names_its_line(tmp_path: Path) -> None:
    root = tree(tmp_path, jail_local=JAIL_LOCAL + "prefix_v6 = 129\n")
    with pytest.raises(ValueError) as info:
        load(root)
    assert "jail.local:7: prefix_v6 = '129' is not a prefix length from 32 to 128" in str(
        info.value
    )


def test_filter_detector_counts_per_prefix(tmp_path: Path) -> None:
    conf = tmp_path / "f.conf"
    conf.write_text("[Definition]\nfailregex = Failed password for .* from <HOST> port\n")
    rule = FilterRule("fail2ban-f", load_filter(conf), maxretry=3)
    sources = ["2001:db8::1", "2001:db8::2", "2001:db8::3"]
    assert [o.source for o in FilterDetector(rule).feed(auth_log(sources), NOW)] == [
        "2001:db8::/64"
    ]
    off = FilterDetector(replace(rule, prefix_v6=128))
    assert off.feed(auth_log(sources), NOW) == []


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        pytest.param([f"::ffff:203.0.113.{i}" for i in range(1, 4)], "203.0.113.0/24",
                     id="ipv4-mapped-counts-as-ipv4"),
        pytest.param([f"::203.0.113.{i}" for i in range(1, 4)], "203.0.113.0/24",
                     id="ipv4-compatible-counts-as-ipv4"),
        pytest.param(["2001:db8::1", "2001:0DB8:0:0::2", "[2001:db8::3]"], "2001:db8::/64",
                     id="ipv6-spellings"),
        pytest.param(["2001:db8::1", "2001:db8::1", "2001:db8::1"], "2001:db8::1",
                     id="one-address-is-named-as-the-address"),
        pytest.param(["2001:db8::1", "not-an-address", "2001:db8::2"], None,
                     id="junk-is-not-counted"),
    ],
)  # fmt: skip
def test_what_a_prefix_bucket_counts(keys: list[str], expected: str | None) -> None:
    table = BucketTable("ssh-bruteforce", capacity=2, leak=1 / 600, max_buckets=64)
    count_prefixes(table, 64, 24)
    got = [table.add(k.encode(), 1.0 + i, i) for i, k in enumerate(keys)]
    assert got[:-1] == [None] * (len(keys) - 1)
    assert (got[-1].source if got[-1] is not None else None) == expected


def test_memory_stays_bounded_in_a_storm_of_random_ipv6_sources() -> None:
    """Every source a new address of a new /64: address and prefix buckets together stay
    within ``max_buckets``, and so do the prefixes remembered with their addresses."""
    table = BucketTable("ssh-bruteforce", capacity=4, leak=5 / 600, max_buckets=1000)
    count_prefixes(table)
    rng = random.Random(11)
    peak = 0
    for i in range(20_000):
        source = f"2001:db8:{rng.getrandbits(16):x}:{rng.getrandbits(16):x}::{i:x}"
        assert table.add(source.encode(), 1000.0 + i / 1000, i) is None
        peak = max(peak, len(table))
    prefixed = table.prefixed
    assert prefixed is not None
    assert 500 < peak <= 1000, "both address and prefix buckets were counted, within the bound"
    assert len(prefixed.spread) <= 1000
    assert prefixed.dropped > 0


def test_an_attacker_is_still_found_after_a_storm() -> None:
    table = BucketTable("ssh-bruteforce", capacity=4, leak=5 / 600, max_buckets=64)
    count_prefixes(table)
    for i in range(10_000):
        table.add(f"2001:db8:{i:x}::1".encode(), 1.0, i)
    got = [table.add(f"2001:db8:ffff:1::{i}".encode(), 2.0, i) for i in range(1, 6)]
    assert got[:4] == [None] * 4
    assert got[4] is not None and got[4].source == "2001:db8:ffff:1::/64"
    assert got[4].events == 5


# -- a chunk's events counted at once: what counting them one by one gives ---------------


def _events(rng: random.Random, count: int) -> list[tuple[bytes, float, int]]:
    """Events of a few IPv4 and IPv6 sources (some /64s shared, one mapped), in time
    order with equal stamps and gaps long enough to drain a bucket."""
    pool = [
        "192.0.2.1", "192.0.2.2", "198.51.100.7", "::ffff:192.0.2.1", "not-an-address",
        *(f"2001:db8:1:1::{i:x}" for i in range(1, 6)), "2001:db8:9::1", "2001:db8:9::2",
    ]  # fmt: skip
    when, events = NOW, []
    for line in range(1, count + 1):
        when += rng.choice([0.0, 0.0, 1.0, 30.0, 900.0])
        events.append((rng.choice(pool).encode(), when, line))
    return events


def _table(max_buckets: int, prefix_v4: int) -> BucketTable:
    table = BucketTable("ssh-bruteforce", 4.0, 0.01, max_buckets)
    count_prefixes(table, 64, prefix_v4)
    return table


@pytest.mark.parametrize("seed", range(12))
def test_events_counted_a_chunk_at_a_time_are_counted_as_one_by_one(seed: int) -> None:
    rng = random.Random(seed)
    events = _events(rng, 600)
    for max_buckets, prefix_v4 in ((10_000, 32), (24, 32), (24, 24)):  # 24 buckets: evicting
        batched, single = _table(max_buckets, prefix_v4), _table(max_buckets, prefix_v4)
        at_once: list[tuple[int, Any]] = []
        start = 0
        while start < len(events):  # chunks of any size, one event up to a hundred
            end = start + rng.randint(1, 100)
            at_once += batched.add_all(events[start:end])
            start = end
        one_by_one = [(line, single.add(key, when, line)) for key, when, line in events]
        assert at_once == [(line, o) for line, o in one_by_one if o is not None]
        assert any(o.source.endswith("/64") for _, o in at_once), "a prefix spoke"
        assert len(batched) == len(single) and batched.dropped == single.dropped
        assert [line for line, _ in at_once] == sorted(line for line, _ in at_once)
