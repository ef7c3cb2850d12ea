"""The nft scripts the enforcer generates, captured with a recording runner."""

from __future__ import annotations

import math

import pytest

from shieldwall.agent.enforce.base import CommandResult, EnforcerError, Entry, RecordingRunner
from shieldwall.agent.enforce.nftables import (
    NftablesEnforcer,
    NftConfig,
    nft_duration,
    segment_text,
    timeout_text,
)

NOW = 1_000_000.0


def make(config: NftConfig | None = None) -> tuple[NftablesEnforcer, RecordingRunner]:
    runner = RecordingRunner()
    return NftablesEnforcer(config, runner=runner, clock=lambda: NOW), runner


def host(target: str, seconds: float, decision_id: int) -> Entry:
    return Entry(target, "ip", NOW + seconds, decision_id)


def net(target: str, seconds: float, decision_id: int) -> Entry:
    return Entry(target, "range", NOW + seconds, decision_id)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        pytest.param(1, "0s1ms", id="one-ms"),
        pytest.param(60_000, "60s", id="whole-seconds"),
        pytest.param(3_600_250, "3600s250ms", id="seconds-and-ms"),
        pytest.param(604_800_000, "604800s", id="a-week-stays-short"),
        pytest.param(315_360_000_000, "3650d0s0ms", id="ten-years-in-days"),
    ],
)
def test_nft_duration(ms: int, text: str) -> None:
    assert nft_duration(ms) == text


@pytest.mark.parametrize(
    ("expires", "text"),
    [
        pytest.param(NOW + 10, " timeout 10s", id="ten-seconds"),
        pytest.param(NOW - 1, None, id="expired"),
        pytest.param(NOW, None, id="expiring-now"),
        pytest.param(math.inf, "", id="no-end"),
        pytest.param(NOW + 1e12, " timeout 3650d0s0ms", id="clamped"),
    ],
)
def test_timeout_text(expires: float, text: str | None) -> None:
    assert timeout_text(expires, NOW) == text


@pytest.mark.parametrize(
    ("version", "first", "last", "text"),
    [
        pytest.param(4, 0x0A000001, 0x0A000001, "10.0.0.1", id="v4-host"),
        pytest.param(4, 0x0A000000, 0x0A0000FF, "10.0.0.0/24", id="v4-cidr"),
        pytest.param(4, 0x0A000000, 0x0A000004, "10.0.0.0-10.0.0.4", id="v4-interval"),
        pytest.param(4, 0x0A000001, 0x0A000002, "10.0.0.1-10.0.0.2", id="v4-unaligned-pair"),
        pytest.param(6, 0x20010DB8 << 96, (0x20010DB8 << 96) + 2**64 - 1, "2001:db8::/64", id="v6"),
    ],
)
def test_segment_text(version: int, first: int, last: int, text: str) -> None:
    assert segment_text(version, first, last) == text


def test_sync_script_builds_the_whole_table_atomically() -> None:
    enforcer, runner = make(NftConfig(allow=("192.0.2.1", "198.51.100.0/24", "2001:db8::1")))
    enforcer.sync(
        [
            host("203.0.113.9", 3600, 1),
            host("2001:db8:1::9", 60, 2),
            net("10.0.0.0/16", 100, 3),
            net("10.0.5.0/24", 1000, 4),
            host("203.0.113.10", -5, 5),
        ]
    )
    [(argv, script)] = runner.calls
    assert argv == ("nft", "-f", "-")
    assert script is not None
    lines = script.splitlines()
    assert lines[:3] == [
        "add table inet shieldwall",
        "delete table inet shieldwall",
        "table inet shieldwall {",
    ]
    assert "    elements = { 192.0.2.1/32, 198.51.100.0/24 }" in lines
    assert "    elements = { 2001:db8::1/128 }" in lines
    assert "    elements = { 203.0.113.9 timeout 3600s }" in lines
    assert "    elements = { 2001:db8:1::9 timeout 60s }" in lines
    assert (
        "    elements = { 10.0.0.0-10.0.4.255 timeout 100s, 10.0.5.0/24 timeout 1000s, "
        "10.0.6.0-10.0.255.255 timeout 100s }"
    ) in lines
    assert "203.0.113.10" not in script, "an expired entry is not loaded"
    assert "    type filter hook input priority -10; policy accept;" in lines
    rules = [line.strip() for line in lines if "saddr" in line or "iif" in line or "icmp" in line]
    assert rules == [
        'iif "lo" accept',
        "ip saddr @allow4 accept",
        "ip6 saddr @allow6 accept",
        "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
        "ip saddr @hosts4 counter drop",
        "ip saddr @ranges4 counter drop",
        "ip6 saddr @hosts6 counter drop",
        "ip6 saddr @ranges6 counter drop",
    ]
    assert "flags interval, timeout;" in script
    assert "forward" not in script


def test_reject_and_forward_hook() -> None:
    enforcer, runner = make(NftConfig(hooks=("input", "forward"), verdict="reject", counters=False))
    enforcer.sync([])
    script = runner.scripts[0]
    assert "type filter hook forward priority -10; policy accept;" in script
    assert "ip saddr @hosts4 reject with icmpx type admin-prohibited" in script
    assert script.count('iif "lo" accept') == 1, "loopback is only exempted on input"


@pytest.mark.parametrize(
    ("before", "add", "remove", "expected"),
    [
        pytest.param(
            [],
            [host("203.0.113.9", 60, 1)],
            [],
            ["add element inet shieldwall hosts4 { 203.0.113.9 timeout 60s }"],
            id="new-host-one-add",
        ),
        pytest.param(
            [host("203.0.113.9", 60, 1)],
            [host("203.0.113.9", 30, 2)],
            [],
            [],
            id="shorter-second-decision-changes-nothing",
        ),
        pytest.param(
            [host("203.0.113.9", 60, 1)],
            [host("203.0.113.9", 600, 2)],
            [],
            [
                "add element inet shieldwall hosts4 { 203.0.113.9 timeout 1s }",
                "delete element inet shieldwall hosts4 { 203.0.113.9 }",
                "add element inet shieldwall hosts4 { 203.0.113.9 timeout 600s }",
            ],
            id="longer-decision-replaces-timeout",
        ),
        pytest.param(
            [host("2001:db8::9", 60, 1)],
            [],
            [host("2001:db8::9", 0, 1)],
            [
                "add element inet shieldwall hosts6 { 2001:db8::9 timeout 1s }",
                "delete element inet shieldwall hosts6 { 2001:db8::9 }",
            ],
            id="revocation-deletes-safely",
        ),
        pytest.param(
            [host("203.0.113.9", 60, 1), host("203.0.113.9", 30, 2)],
            [],
            [host("203.0.113.9", 0, 1)],
            [
                "add element inet shieldwall hosts4 { 203.0.113.9 timeout 1s }",
                "delete element inet shieldwall hosts4 { 203.0.113.9 }",
                "add element inet shieldwall hosts4 { 203.0.113.9 timeout 30s }",
            ],
            id="revoking-one-of-two-keeps-the-other",
        ),
        pytest.param(
            [net("10.0.0.0/24", 100, 1)],
            [host("10.0.0.7", 500, 2)],
            [],
            ["add element inet shieldwall hosts4 { 10.0.0.7 timeout 500s }"],
            id="host-inside-range-uses-host-set",
        ),
        pytest.param(
            [net("10.0.0.0/16", 100, 1)],
            [net("10.0.1.0/24", 500, 2)],
            [],
            [
                "delete element inet shieldwall ranges4 { 10.0.0.0/16 }",
                "add element inet shieldwall ranges4 { 10.0.0.0/24 timeout 100s, "
                "10.0.1.0/24 timeout 500s, 10.0.2.0-10.0.255.255 timeout 100s }",
            ],
            id="nested-range-splits-segments-in-one-batch",
        ),
        pytest.param(
            [net("10.0.0.0/16", 100, 1), net("10.0.1.0/24", 500, 2)],
            [],
            [net("10.0.1.0/24", 0, 2)],
            [
                "delete element inet shieldwall ranges4 { 10.0.1.0/24 }",
                "add element inet shieldwall ranges4 { 10.0.1.0/24 timeout 100s }",
            ],
            id="revoking-nested-range-touches-only-its-segment",
        ),
        pytest.param(
            [],
            [net("2001:db8::/64", 60, 1)],
            [],
            ["add element inet shieldwall ranges6 { 2001:db8::/64 timeout 60s }"],
            id="ipv6-range",
        ),
        pytest.param([], [host("203.0.113.9", -1, 1)], [], [], id="already-expired-ignored"),
        pytest.param([], [], [host("203.0.113.9", 0, 99)], [], id="unknown-removal-ignored"),
    ],
)
def test_batch_scripts(
    before: list[Entry], add: list[Entry], remove: list[Entry], expected: list[str]
) -> None:
    enforcer, runner = make()
    enforcer.sync(before)
    runner.calls.clear()
    enforcer.apply(add, remove)
    if expected:
        [(argv, script)] = runner.calls
        assert argv == ("nft", "-f", "-")
        assert script is not None
        assert script.splitlines() == expected
    else:
        assert runner.calls == [], "no command when nothing changes"


def test_refused_batch_reloads_whole_table() -> None:
    enforcer, runner = make()
    enforcer.sync([host("203.0.113.9", 60, 1)])
    runner.results = [CommandResult(1, "", "Error: No such file or directory")]
    enforcer.apply([host("203.0.113.10", 60, 2)], [])
    assert len(runner.calls) == 3
    reload = runner.calls[2][1]
    assert reload is not None and reload.startswith("add table inet shieldwall\ndelete table")
    assert "203.0.113.9 timeout 60s, 203.0.113.10 timeout 60s" in reload


def test_failed_reload_raises_with_nft_message() -> None:
    enforcer, runner = make()
    runner.results = [CommandResult(1, "", "/dev/stdin:9:3: Error: Could not process rule\n")]
    with pytest.raises(EnforcerError, match=r"loading nftables table 'shieldwall'.*Could not"):
        enforcer.sync([])


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            Entry("1.2.3.4 } ; flush ruleset", "ip", NOW + 60, 1),
            "is not a normalised address",
            id="injection-in-host",
        ),
        pytest.param(
            Entry("10.0.0.1/8", "range", NOW + 60, 1), "has host bits set", id="bad-range"
        ),
    ],
)
def test_hostile_entries_are_refused(entry: Entry, message: str) -> None:
    enforcer, runner = make()
    with pytest.raises(ValueError, match=message):
        enforcer.apply([entry], [])
    assert runner.calls == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"table": "shield wall"}, "table name 'shield wall' is invalid", id="table"),
        pytest.param({"hooks": ("output",)}, "hooks \\['output'\\] are invalid", id="hook"),
        pytest.param({"hooks": ()}, "hooks \\[\\] are invalid", id="no-hook"),
        pytest.param({"verdict": "accept"}, "verdict 'accept' is invalid", id="verdict"),
        pytest.param({"priority": 5000}, "priority 5000 is out of range", id="priority"),
        pytest.param({"allow": ("10.0.0.1/8",)}, "write it as 10.0.0.0/8", id="allow"),
    ],
)
def test_config_errors_name_the_value(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NftConfig(**kwargs)  # type: ignore[arg-type]
