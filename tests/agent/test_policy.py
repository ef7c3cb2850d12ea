"""Local policy: what a member enforces of the alliance's decisions, and what it never blocks."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

import pytest

from shieldwall.agent.enforce.base import Entry
from shieldwall.agent.policy import Policy, Refusal, load_policy, parse_duration
from shieldwall.core.model import Decision

NOW = 1_000_000.0
HOUR = 3600.0


def decision(target: str = "203.0.113.9", **changes: Any) -> Decision:
    scope = "range" if "/" in target else "ip"
    base = Decision(
        id=1,
        target=target,
        scope=scope,  # type: ignore[arg-type]
        action="ban",
        scenario="ssh-bruteforce",
        clause="art5.quorum",
        members=("a", "b"),
        issued_at=NOW - 60,
        expires_at=NOW + HOUR,
    )
    return replace(base, **changes)


def policy(section: dict[str, Any] | None = None) -> Policy:
    return load_policy(
        section or {},
        member="m1",
        own_addresses=["192.0.2.10", "2001:db8:aa::10"],
        hubs=["192.0.2.200"],
    )


@pytest.mark.parametrize(
    ("section", "dec", "rule"),
    [
        pytest.param({}, decision(), None, id="default-accepts-ban"),
        pytest.param({}, decision(action="throttle"), None, id="default-accepts-throttle"),
        pytest.param({}, decision(action="watch"), "actions", id="default-refuses-watch"),
        pytest.param({"actions": ["ban"]}, decision(action="throttle"), "actions", id="ban-only"),
        pytest.param({}, decision(recommended=True), "apply_recommended", id="recommendation"),
        pytest.param(
            {"apply_recommended": True}, decision(recommended=True), None, id="recommend-opt-in"
        ),
        pytest.param(
            {"scenarios": ["http-scan"]}, decision(), "scenarios", id="scenario-not-chosen"
        ),
        pytest.param({"scenarios": ["ssh-bruteforce"]}, decision(), None, id="scenario-chosen"),
        pytest.param(
            {"opt_out_scenarios": ["ssh-bruteforce"]},
            decision(),
            "opt_out_scenarios",
            id="scenario-opt-out",
        ),
        pytest.param(
            {"opt_out_clauses": ["art5.quorum"]}, decision(), "opt_out_clauses", id="clause-opt-out"
        ),
        pytest.param({}, decision(applies_to=("m2",)), "applies_to", id="binds-someone-else"),
        pytest.param({}, decision(applies_to=("m2", "m1")), None, id="binds-this-member"),
        pytest.param({}, decision(expires_at=NOW), "expired", id="expired"),
        pytest.param({}, decision("192.0.2.10"), "protected", id="own-address"),
        pytest.param({}, decision("192.0.2.0/24"), "protected", id="range-over-own-address"),
        pytest.param({}, decision("192.0.2.200"), "protected", id="hub"),
        pytest.param({}, decision("2001:db8:aa::/48"), "protected", id="ipv6-range-over-own"),
        pytest.param(
            {"allowlist": ["198.51.100.0/24"]},
            decision("198.51.100.77"),
            "protected",
            id="allowlisted-host",
        ),
        pytest.param(
            {"allowlist": ["198.51.100.64/26"]},
            decision("198.51.0.0/16"),
            "protected",
            id="range-merely-overlapping-allowlist",
        ),
        pytest.param(
            {"allowlist": ["198.51.100.64/26"]},
            decision("198.51.100.0/26"),
            None,
            id="neighbouring-range-accepted",
        ),
        pytest.param({}, decision("10.0.0.0/7"), "widest_prefix_v4", id="too-wide-v4"),
        pytest.param({}, decision("10.0.0.0/8"), None, id="widest-allowed-v4"),
        pytest.param({}, decision("2a00::/16"), "widest_prefix_v6", id="too-wide-v6"),
        pytest.param({}, decision("0.0.0.0"), "target", id="unspecified"),
        pytest.param({}, decision("not-an-ip"), "target", id="garbage-target"),
        pytest.param({}, decision("1.2.3.4; flush"), "target", id="injection-target"),
        pytest.param({}, decision("10.0.0.1/8"), "target", id="host-bits-set"),
        pytest.param({}, decision("fe80::1%eth0"), "target", id="scoped-ipv6"),
        pytest.param(
            {"max_ban": "1h"},
            decision(issued_at=NOW - 2 * HOUR, expires_at=NOW + HOUR),
            "max_ban",
            id="clamped-ban-already-over",
        ),
    ],
)
def test_decide(section: dict[str, Any], dec: Decision, rule: str | None) -> None:
    verdict = policy(section).decide(dec, NOW)
    if rule is None:
        assert isinstance(verdict, Entry), verdict
    else:
        assert isinstance(verdict, Refusal), verdict
        assert verdict.rule == rule
        assert verdict.decision_id == dec.id


@pytest.mark.parametrize(
    ("target", "why"),
    [
        pytest.param("192.0.2.0/24", "192.0.2.0/24 overlaps 192.0.2.10", id="wider-range"),
        pytest.param("192.0.2.10", "192.0.2.10 is protected", id="same-address"),
    ],
)
def test_protected_refusal_says_what_it_overlaps(target: str, why: str) -> None:
    verdict = policy().decide(decision(target), NOW)
    assert verdict == Refusal(1, target, "protected", f"{why} (this member's own address)")


def test_an_address_inside_a_protected_range_lies_in_it() -> None:
    verdict = policy({"allowlist": ["198.51.100.0/24"]}).decide(decision("198.51.100.7"), NOW)
    assert isinstance(verdict, Refusal)
    assert verdict.reason.startswith("198.51.100.7 lies in 198.51.100.0/24 (")


@pytest.mark.parametrize(
    ("section", "dec", "expected"),
    [
        pytest.param({}, decision(), Entry("203.0.113.9", "ip", NOW + HOUR, 1), id="as-decided"),
        pytest.param(
            {"max_ban": "30m"},
            decision(),
            Entry("203.0.113.9", "ip", NOW - 60 + 1800, 1),
            id="clamped-from-issue",
        ),
        pytest.param(
            {},
            decision("2001:DB8::0:9"),
            Entry("2001:db8::9", "ip", NOW + HOUR, 1),
            id="ipv6-normalised",
        ),
        pytest.param(
            {},
            decision("203.0.113.9/32", scope="range"),
            Entry("203.0.113.9", "ip", NOW + HOUR, 1),
            id="slash-32-is-a-host",
        ),
        pytest.param(
            {},
            decision("198.51.100.0/24"),
            Entry("198.51.100.0/24", "range", NOW + HOUR, 1),
            id="range",
        ),
    ],
)
def test_entries(section: dict[str, Any], dec: Decision, expected: Entry) -> None:
    assert policy(section).decide(dec, NOW) == expected


def test_filter_splits_accepted_and_refused() -> None:
    decisions = [
        decision(id=1),
        decision("192.0.2.10", id=2),
        decision(id=3, action="watch"),
        decision("198.51.100.9", id=4),
    ]
    accepted, refused = policy().filter(decisions, NOW)
    assert [e.decision_id for e in accepted] == [1, 4]
    assert [(r.decision_id, r.rule) for r in refused] == [(2, "protected"), (3, "actions")]


def test_describe_is_json_and_complete() -> None:
    described = policy({"max_ban": "7d", "allowlist": ["198.51.100.0/24"]}).describe()
    assert json.loads(json.dumps(described)) == described
    assert described == {
        "member": "m1",
        "scenarios": ["*"],
        "actions": ["throttle", "ban"],
        "apply_recommended": False,
        "max_ban": 7 * 86400.0,
        "allowlist": ["198.51.100.0/24"],
        "own_addresses": ["192.0.2.10", "2001:db8:aa::10"],
        "hubs": ["192.0.2.200"],
        "ignoreip": [],
        "opt_out_scenarios": [],
        "opt_out_clauses": [],
        "widest_prefix_v4": 8,
        "widest_prefix_v6": 32,
        "self_defence": True,
        "self_defence_ban": 3600.0,
    }


@pytest.mark.parametrize(
    ("section", "target", "expect"),
    [
        pytest.param({}, "203.0.113.9", ("203.0.113.9", 1000.0 + 3600), id="default-one-hour"),
        pytest.param(
            {"self_defence_ban": "10m"}, "203.0.113.9", ("203.0.113.9", 1600.0), id="own-duration"
        ),
        pytest.param({}, "2001:db8:bad::1", ("2001:db8:bad::1", 4600.0), id="ipv6"),
        pytest.param({}, "192.0.2.10", "protected", id="own-address-never"),
        pytest.param({}, "192.0.2.200", "protected", id="hub-never"),
        pytest.param(
            {"allowlist": ["198.51.100.0/24"]}, "198.51.100.7", "protected", id="allowlist-never"
        ),
        pytest.param({"self_defence": False}, "203.0.113.9", "self_defence", id="switched-off"),
        pytest.param({}, "not-an-ip", "target", id="garbage"),
    ],
)
def test_local_self_defence(section: dict, target: str, expect: object) -> None:
    verdict = policy(section).defend(target, 1000.0, -1)
    if isinstance(expect, tuple):
        assert isinstance(verdict, Entry)
        assert (verdict.target, verdict.expires_at, verdict.decision_id) == (*expect, -1)
    else:
        assert not isinstance(verdict, Entry)
        assert verdict.rule == expect


@pytest.mark.parametrize(
    ("section", "words"),
    [
        pytest.param({"self_defence": "yes"}, "self_defence = 'yes'", id="not-bool"),
        pytest.param({"self_defence_ban": "forever"}, "self_defence_ban", id="bad-duration"),
        pytest.param({"self_defence_ban": "none"}, "self_defence_ban", id="unlimited-refused"),
    ],
)
def test_self_defence_settings_refused(section: dict, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        policy(section)


def test_protected_lists_every_never_blocked_network() -> None:
    assert policy({"allowlist": ["198.51.100.0/24", "192.0.2.10"]}).protected == (
        "192.0.2.10",
        "2001:db8:aa::10",
        "198.51.100.0/24",
        "192.0.2.200",
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param(
            {"max_bann": "1d"}, "unknown key 'max_bann': did you mean 'max_ban'", id="typo"
        ),
        pytest.param({"colour": 1}, "unknown key 'colour': known keys: scenarios", id="unknown"),
        pytest.param({"max_ban": "forever"}, "max_ban = 'forever' is invalid", id="max-ban-word"),
        pytest.param({"max_ban": -5}, "max_ban = -5 is invalid", id="max-ban-negative"),
        pytest.param({"max_ban": True}, "max_ban = True is invalid", id="max-ban-bool"),
        pytest.param(
            {"actions": ["block"]}, "actions: 'block' is not a decision type", id="action"
        ),
        pytest.param({"actions": "ban"}, "actions = 'ban' is invalid: give a list", id="not-list"),
        pytest.param(
            {"allowlist": ["10.0.0.1/8"]},
            "allowlist: range '10.0.0.1/8' has host bits set: write it as 10.0.0.0/8",
            id="allowlist-host-bits",
        ),
        pytest.param(
            {"allowlist": ["office"]}, "allowlist: address 'office' is not", id="allowlist-name"
        ),
        pytest.param(
            {"apply_recommended": "yes"}, "apply_recommended = 'yes' is invalid", id="bool"
        ),
        pytest.param(
            {"widest_prefix_v4": 33}, "widest_prefix_v4 = 33 is invalid: give a prefix", id="v4"
        ),
        pytest.param(
            {"opt_out_clauses": ["art 5"]}, "opt_out_clauses: 'art 5' is not a valid", id="clause"
        ),
    ],
)
def test_errors_name_key_and_value(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        load_policy(section, member="m1")


def test_hub_must_be_an_address() -> None:
    with pytest.raises(ValueError, match=r"hub address: address 'hub\.example\.org' is not"):
        load_policy({}, member="m1", hubs=["hub.example.org"])


def test_section_must_be_a_table() -> None:
    with pytest.raises(ValueError, match=r"\[policy\] must be a table of settings, not list"):
        load_policy([], member="m1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param(90, 90.0, id="int"),
        pytest.param("45m", 2700.0, id="minutes"),
        pytest.param("12h", 43200.0, id="hours"),
        pytest.param("2w", 1209600.0, id="weeks"),
        pytest.param("none", None, id="none"),
    ],
)
def test_parse_duration(value: object, seconds: float | None) -> None:
    assert parse_duration(value, "max_ban") == seconds


@pytest.mark.parametrize(
    ("dec", "expires"),
    [
        pytest.param(decision(expires_at=NOW + 30 * 86400), NOW - 60 + 86400, id="from-issue"),
        pytest.param(
            decision(issued_at=float("nan"), expires_at=NOW + 30 * 86400),
            NOW + 86400,
            id="unreadable-issue-time-counts-as-now",
        ),
        pytest.param(
            decision(issued_at=NOW + 10 * 86400, expires_at=NOW + 30 * 86400),
            NOW + 86400,
            id="future-issue-time-counts-as-now",
        ),
    ],
)
def test_max_ban_cannot_be_stretched_by_the_issue_time(dec: Decision, expires: float) -> None:
    verdict = policy({"max_ban": "1d"}).decide(dec, NOW)
    assert isinstance(verdict, Entry)
    assert verdict.expires_at == expires


@pytest.mark.parametrize(
    ("dec", "rule"),
    [
        pytest.param(decision(action=["ban"]), "action", id="action-not-a-string"),  # type: ignore[arg-type]
        pytest.param(decision(id=-3), "id", id="negative-id-is-this-members-own"),
        pytest.param(decision(id=0), "id", id="zero-id"),
        pytest.param(decision("0.0.0.0/0"), "target", id="everything"),
        pytest.param(decision("::/0"), "target", id="everything-v6"),
        pytest.param(decision("0.0.0.0"), "target", id="unspecified"),
        pytest.param(decision("0.0.0.0/1"), "widest_prefix_v4", id="half-the-internet"),
        pytest.param(decision("192.0.2.0/24"), "protected", id="range-over-own-address"),
        pytest.param(decision("192.0.2.200"), "protected", id="the-hub"),
        pytest.param(decision("2001:db8:aa::/48"), "protected", id="range-over-own-v6"),
        pytest.param(decision(expires_at=float("nan")), "expired", id="nan-expiry"),
    ],
)
def test_hostile_decisions_are_refused(dec: Decision, rule: str) -> None:
    verdict = policy().decide(dec, NOW)
    assert isinstance(verdict, Refusal), verdict
    assert verdict.rule == rule


def test_fail2ban_ignoreip_is_protected_and_reported() -> None:
    p = load_policy({}, member="m1", ignoreip=["198.51.100.0/24", "::1"])
    assert p.decide(decision("198.51.100.9"), NOW).rule == "protected"  # type: ignore[union-attr]
    assert "198.51.100.0/24" in p.protected and "::1" in p.protected
    assert p.describe()["ignoreip"] == ["198.51.100.0/24", "::1"]
    assert p.protecting("198.51.100.9") == ("198.51.100.0/24", "a fail2ban jail's ignoreip")
    assert p.protecting("203.0.113.9") is None


@pytest.mark.parametrize(
    ("ban", "expires"),
    [
        pytest.param(None, 1000.0 + 3600, id="policy-default"),
        pytest.param(600.0, 1600.0, id="jail-bantime"),
        pytest.param(float("inf"), float("inf"), id="jail-bantime-for-ever"),
    ],
)
def test_self_defence_ban_length(ban: float | None, expires: float) -> None:
    verdict = policy().defend("203.0.113.9", 1000.0, -1, ban)
    assert isinstance(verdict, Entry) and verdict.expires_at == expires
