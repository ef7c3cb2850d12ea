"""Ledger, memory and dry-run enforcers, and building an enforcer from configuration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.enforce.base import Change, Entry, Ledger, entries_from_decisions
from shieldwall.agent.enforce.dryrun import DryRunEnforcer
from shieldwall.agent.enforce.factory import make_enforcer
from shieldwall.agent.enforce.file import FileEnforcer
from shieldwall.agent.enforce.ipset import IpsetEnforcer
from shieldwall.agent.enforce.memory import MemoryEnforcer
from shieldwall.agent.enforce.nftables import NftablesEnforcer
from shieldwall.core.model import Decision


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def e(target: str, expires: float, decision_id: int) -> Entry:
    return Entry(target, "range" if "/" in target else "ip", expires, decision_id)


def test_entry_from_decision_normalises() -> None:
    d = Decision(7, "2001:DB8::1/128", "range", "ban", "s", "c", ("a",), 0.0, 10.0)
    assert entries_from_decisions([d]) == [Entry("2001:db8::1", "ip", 10.0, 7)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        pytest.param(
            [([e("1.1.1.1", 50, 1)], [])],
            [Change("1.1.1.1", "ip", None, 50)],
            id="add",
        ),
        pytest.param(
            [([e("1.1.1.1", 50, 1)], []), ([e("1.1.1.1", 40, 2)], [])],
            [],
            id="shorter-second-decision-no-change",
        ),
        pytest.param(
            [([e("1.1.1.1", 50, 1), e("1.1.1.1", 40, 2)], []), ([], [e("1.1.1.1", 0, 1)])],
            [Change("1.1.1.1", "ip", 50, 40)],
            id="revoke-longer-falls-back",
        ),
        pytest.param(
            [([e("1.1.1.1", 50, 1)], []), ([e("1.1.1.2", 50, 1)], [])],
            [Change("1.1.1.1", "ip", 50, None), Change("1.1.1.2", "ip", None, 50)],
            id="decision-moves-target",
        ),
        pytest.param([([e("1.1.1.1", 5, 1)], [])], [], id="already-expired"),
    ],
)
def test_ledger(steps: list[tuple[list[Entry], list[Entry]]], expected: list[Change]) -> None:
    ledger = Ledger()
    changes: list[Change] = []
    for add, remove in steps:
        changes = ledger.batch(add, remove, now=10.0)
    assert changes == expected


def test_ledger_expire_reports_ended_targets() -> None:
    ledger = Ledger()
    ledger.reset([e("1.1.1.1", 20, 1), e("1.1.1.1", 30, 2), e("2.2.2.2", 20, 3)], now=10.0)
    assert (
        ledger.expire(25.0)
        == [
            Change("1.1.1.1", "ip", 30, 30),
            Change("2.2.2.2", "ip", 20, None),
        ][1:]
    )
    assert ledger.effective() == {"1.1.1.1": 30}
    assert ledger.expire(30.0) == [Change("1.1.1.1", "ip", 30, None)]
    assert len(ledger) == 0


def test_memory_enforcer_holds_ranges_spares_allowlist_and_expires() -> None:
    clock = Clock(0.0)
    enforcer = MemoryEnforcer(allow=["10.0.0.3"], clock=clock)
    enforcer.sync([e("10.0.0.0/24", 100, 1)])
    enforcer.apply([e("2001:db8::9", 50, 2)], [])
    assert enforcer.holds("10.0.0.2")
    assert not enforcer.holds("10.0.0.3")
    assert enforcer.holds("2001:db8::9")
    assert not enforcer.holds("10.0.1.1")
    clock.now = 60.0
    assert not enforcer.holds("2001:db8::9")
    assert enforcer.expire() == 1
    enforcer.close()
    assert [c.method for c in enforcer.calls] == ["sync", "apply", "close"]
    assert enforcer.held() == {"10.0.0.0/24": 100}


def test_dryrun_logs_changes_only(caplog: pytest.LogCaptureFixture) -> None:
    enforcer = DryRunEnforcer(clock=Clock(0.0))
    with caplog.at_level(logging.INFO, logger="shieldwall.enforce.dryrun"):
        enforcer.sync([e("203.0.113.9", 60, 1)])
        enforcer.apply([e("203.0.113.9", 30, 2)], [])  # shorter: nothing changes
        enforcer.apply([e("203.0.113.9", 90, 3)], [])
        enforcer.apply([], [e("203.0.113.9", 0, 1), e("203.0.113.9", 0, 2), e("", 0, 3)])
    assert caplog.messages == [
        "dry run: would hold exactly 1 entries",
        "dry run: would block 203.0.113.9 until 1970-01-01T00:01:00Z",
        "dry run: would keep blocking 203.0.113.9 until 1970-01-01T00:01:30Z "
        "(was 1970-01-01T00:01:00Z)",
        "dry run: would unblock 203.0.113.9",
    ]


@pytest.mark.parametrize(
    ("section", "kind"),
    [
        pytest.param({}, NftablesEnforcer, id="default-nftables"),
        pytest.param(
            {"backend": "nftables", "hooks": ["input", "forward"]},
            NftablesEnforcer,
            id="nftables-forward",
        ),
        pytest.param({"backend": "ipset", "netns": "member1"}, IpsetEnforcer, id="ipset-netns"),
        pytest.param({"backend": "dryrun"}, DryRunEnforcer, id="dryrun"),
        pytest.param({"backend": "memory"}, MemoryEnforcer, id="memory"),
    ],
)
def test_factory_builds(section: dict[str, Any], kind: type) -> None:
    assert isinstance(make_enforcer(section, allow=["192.0.2.1"]), kind)


def test_factory_file(tmp_path: Path) -> None:
    built = make_enforcer(
        {"backend": "file", "path": str(tmp_path / "x"), "line_format": "{target} 1;"}
    )
    assert isinstance(built, FileEnforcer)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param({"backend": "pf"}, "backend = 'pf' is unknown: choose one of", id="backend"),
        pytest.param(
            {"tabel": "x"},
            "key 'tabel' does not apply to nftables: did you mean 'table'",
            id="typo",
        ),
        pytest.param({"backend": "file"}, "backend 'file' needs path", id="file-path"),
        pytest.param({"hooks": "input"}, "hooks = 'input' must be a list", id="hooks-str"),
        pytest.param({"netns": "a b"}, "netns = 'a b' is not a namespace name", id="netns"),
        pytest.param({"table": 5}, "table = 5 must be a string, e.g. table = ", id="type"),
        pytest.param({"priority": "high"}, "priority = 'high' must be a whole number", id="prio"),
        pytest.param({"counters": "yes"}, "counters = 'yes' must be true or false", id="counters"),
        pytest.param(
            {"backend": "ipset", "maxelem": True}, "maxelem = True must be a whole", id="maxelem"
        ),
        pytest.param({"hooks": ["input", 1]}, r"hooks = \['input', 1\] must be a list", id="hk"),
        pytest.param(
            {"backend": "file", "path": 3}, "path = 3 must be a string", id="file-path-type"
        ),
        pytest.param({"backend": "dryrun", "path": "x"}, "does not apply to dryrun", id="extra"),
    ],
)
def test_factory_errors(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_enforcer(section)
