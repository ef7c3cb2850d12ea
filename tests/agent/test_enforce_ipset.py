"""The ipset/iptables scripts the enforcer generates."""

from __future__ import annotations

import math

import pytest

from shieldwall.agent.enforce.base import CommandResult, Entry, RecordingRunner
from shieldwall.agent.enforce.ipset import IpsetConfig, IpsetEnforcer, ipset_timeout

NOW = 5_000.0


def make(config: IpsetConfig | None = None) -> tuple[IpsetEnforcer, RecordingRunner]:
    runner = RecordingRunner()
    return IpsetEnforcer(config, runner=runner, clock=lambda: NOW), runner


@pytest.mark.parametrize(
    ("expires", "timeout"),
    [
        pytest.param(NOW + 9.2, 10, id="rounded-up"),
        pytest.param(NOW - 1, None, id="expired"),
        pytest.param(math.inf, 0, id="no-end"),
        pytest.param(NOW + 1e9, 2147483, id="ipset-maximum"),
    ],
)
def test_ipset_timeout(expires: float, timeout: int | None) -> None:
    assert ipset_timeout(expires, NOW) == timeout


def test_sync_swaps_filled_sets_and_installs_rules() -> None:
    enforcer, runner = make(IpsetConfig(allow=("192.0.2.1",)))
    runner.results = [CommandResult(0, "", ""), CommandResult(0, "", "")]
    runner.results += [CommandResult(1, "", "Bad rule")]  # iptables -C: jump missing
    enforcer.sync(
        [
            Entry("203.0.113.9", "ip", NOW + 60, 1),
            Entry("10.0.0.0/8", "range", NOW + 60, 2),
            Entry("10.0.0.7", "ip", NOW + 600, 3),
            Entry("2001:db8::/64", "range", NOW + 60, 4),
        ]
    )
    argv, script = runner.calls[0]
    assert argv == ("ipset", "-exist", "restore")
    assert script is not None
    lines = script.splitlines()
    assert lines[:9] == [
        "create shieldwall4 hash:net family inet timeout 0 maxelem 1048576",
        "create shieldwall4-tmp hash:net family inet timeout 0 maxelem 1048576",
        "flush shieldwall4-tmp",
        "add shieldwall4-tmp 10.0.0.0/8 timeout 60",
        "add shieldwall4-tmp 10.0.0.7 timeout 600",
        "add shieldwall4-tmp 203.0.113.9 timeout 60",
        "swap shieldwall4-tmp shieldwall4",
        "destroy shieldwall4-tmp",
        "create shieldwall4-allow hash:net family inet maxelem 1048576",
    ]
    assert "add shieldwall4-allowt 192.0.2.1" in lines
    assert "add shieldwall6-tmp 2001:db8::/64 timeout 60" in lines
    rules = runner.calls[1]
    assert rules[0] == ("iptables-restore", "--noflush")
    assert rules[1] is not None
    assert rules[1].splitlines() == [
        "*filter",
        ":SHIELDWALL - [0:0]",
        "-A SHIELDWALL -i lo -j RETURN",
        "-A SHIELDWALL -m set --match-set shieldwall4-allow src -j RETURN",
        "-A SHIELDWALL -m set --match-set shieldwall4 src -j DROP",
        "COMMIT",
    ]
    assert runner.calls[2][0] == ("iptables", "-C", "INPUT", "-j", "SHIELDWALL")
    assert runner.calls[3][0] == ("iptables", "-I", "INPUT", "1", "-j", "SHIELDWALL")
    assert runner.calls[4][0] == ("ip6tables-restore", "--noflush")
    assert runner.calls[5][0] == ("ip6tables", "-C", "INPUT", "-j", "SHIELDWALL")
    assert len(runner.calls) == 6, "jump already present in ip6tables: not inserted twice"


def test_batch_is_one_restore() -> None:
    enforcer, runner = make()
    enforcer.sync([Entry("203.0.113.9", "ip", NOW + 60, 1)])
    runner.calls.clear()
    enforcer.apply(
        [Entry("2001:db8::9", "ip", NOW + 30, 2), Entry("203.0.113.9", "ip", NOW + 90, 3)],
        [Entry("203.0.113.9", "ip", 0, 1)],
    )
    [(argv, script)] = runner.calls
    assert argv == ("ipset", "-exist", "restore")
    assert (
        script == "add shieldwall4 203.0.113.9 timeout 90\nadd shieldwall6 2001:db8::9 timeout 30\n"
    )
    runner.calls.clear()
    enforcer.apply([], [Entry("203.0.113.9", "ip", 0, 3)])
    assert runner.scripts == ["del shieldwall4 203.0.113.9\n"]


def test_reject_verdict() -> None:
    enforcer, _ = make(IpsetConfig(verdict="reject", prefix="sw"))
    assert "-A SHIELDWALL -m set --match-set sw6 src -j REJECT" in enforcer.rules_script(6)


def test_ipv6_neighbour_discovery_passes_before_the_ban_set() -> None:
    enforcer, _ = make()
    rules = enforcer.rules_script(6).splitlines()
    nd = [
        "-A SHIELDWALL -p ipv6-icmp --icmpv6-type neighbour-solicitation -j RETURN",
        "-A SHIELDWALL -p ipv6-icmp --icmpv6-type neighbour-advertisement -j RETURN",
    ]
    ban = "-A SHIELDWALL -m set --match-set shieldwall6 src -j DROP"
    assert rules.index(nd[0]) < rules.index(ban)
    assert rules.index(nd[1]) < rules.index(ban)
    assert "icmpv6" not in enforcer.rules_script(4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"prefix": "x" * 21}, "ipset prefix 'x{21}' is invalid", id="long-prefix"),
        pytest.param({"chain": "BAD CHAIN"}, "chain 'BAD CHAIN' is invalid", id="chain"),
        pytest.param({"verdict": "log"}, "verdict 'log' is invalid", id="verdict"),
        pytest.param({"maxelem": 10}, "maxelem 10 is out of range", id="maxelem"),
    ],
)
def test_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        IpsetConfig(**kwargs)  # type: ignore[arg-type]
