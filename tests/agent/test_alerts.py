"""The member's alert table: stricter detection for sources on alert, never a ban."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shieldwall import wire
from shieldwall.agent.alerts import AlertTable, fetch
from shieldwall.agent.detect import DetectConfig, DetectionEngine, load_config
from shieldwall.agent.detect.buckets import BucketTable
from shieldwall.agent.detect.fail2ban import FilterDetector
from shieldwall.core.model import Alert
from tests.agent.test_jails import load, tree

NOW = 1_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def alert(target: str = "203.0.113.9", **over: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": 1,
        "target": target,
        "scope": "range" if "/" in target else "ip",
        "scenario": "ssh-bruteforce",
        "member": "alpha",
        "issued_at": NOW - 10,
        "expires_at": NOW + 600,
        "maxretry": 1,
        **over,
    }
    return Alert(**fields)


def table(**kw: Any) -> AlertTable:
    return AlertTable("bravo", clock=Clock(), **kw)


# -- wire --------------------------------------------------------------------------------


def test_alert_from_reads_what_the_hub_sends_and_folds_the_target() -> None:
    sent = wire.alert(alert("::ffff:203.0.113.9", correlated=("bravo",), others_maxretry=3))
    got = wire.alert_from(sent)
    assert got.target == "203.0.113.9" and got.scope == "ip"
    assert (got.maxretry, got.others_maxretry, got.correlated) == (1, 3, ("bravo",))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param({"target": "203.0.113.9; flush ruleset"}, "target", id="shell-in-target"),
        pytest.param({"target": "198.51.100.1/24"}, "host bits", id="host-bits"),
        pytest.param({"maxretry": 0}, "maxretry", id="zero-maxretry"),
        pytest.param({"maxretry": True}, "maxretry", id="bool-maxretry"),
        pytest.param({"maxretry": 1.5}, "maxretry", id="float-maxretry"),
        pytest.param({"others_maxretry": -1}, "others", id="negative-others"),
        pytest.param({"expires_at": float("inf")}, "finite", id="endless"),
        pytest.param({"correlated": "bravo"}, "correlated", id="correlated-not-list"),
        pytest.param({"id": "1"}, "id", id="id-text"),
    ],
)
def test_alert_from_refuses_what_a_hostile_hub_may_send(change: dict[str, Any], named: str) -> None:
    data = {**wire.alert(alert()), **change}
    with pytest.raises(ValueError, match="malformed alert from the hub"):
        wire.alert_from(data)


@pytest.mark.parametrize(
    "data",
    [pytest.param([], id="list"), pytest.param("x", id="text"), pytest.param({}, id="empty")],
)
def test_alert_from_refuses_what_is_not_an_alert(data: Any) -> None:
    with pytest.raises(ValueError, match="malformed alert"):
        wire.alert_from(data)


# -- the table ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("held", "source", "expected"),
    [
        pytest.param("203.0.113.9", b"203.0.113.9", 1, id="ipv4-host"),
        pytest.param("203.0.113.9", b"203.0.113.10", None, id="ipv4-other-host"),
        pytest.param("2001:db8::1", b"2001:DB8:0::1", 1, id="ipv6-as-a-log-spells-it"),
        pytest.param("2001:db8::1", b"[2001:db8::1]", 1, id="ipv6-bracketed"),
        pytest.param("203.0.113.9", b"::ffff:203.0.113.9", 1, id="ipv4-mapped"),
        pytest.param("198.51.100.0/24", b"198.51.100.77", 1, id="in-ipv4-range"),
        pytest.param("198.51.100.0/24", b"198.51.101.77", None, id="outside-ipv4-range"),
        pytest.param("2001:db8:1::/48", b"2001:db8:1:2::5", 1, id="in-ipv6-range"),
        pytest.param("2001:db8:1::/48", b"203.0.113.9", None, id="other-family"),
        pytest.param("203.0.113.9", b"web01.example", None, id="host-name"),
    ],
)
def test_lookup_by_address_and_by_range(held: str, source: bytes, expected: int | None) -> None:
    t = table()
    t.apply(alert(held))
    assert t.maxretry(source) == expected


def test_an_empty_table_answers_without_parsing() -> None:
    assert table().maxretry(b"not an address at all") is None


@pytest.mark.parametrize(
    ("over", "floor", "ceiling", "expected"),
    [
        pytest.param({}, 1, 0, 1, id="the-alert-s"),
        pytest.param({}, 2, 0, 2, id="member-floor"),
        pytest.param({"maxretry": 4}, 1, 2, 2, id="member-ceiling"),
        pytest.param({"correlated": ("bravo",), "others_maxretry": 3}, 1, 0, 1, id="named-first"),
        pytest.param({"correlated": ("charlie",), "others_maxretry": 3}, 1, 0, 3, id="not-named"),
        pytest.param({"correlated": ("charlie",)}, 1, 0, 1, id="not-named-same-threshold"),
    ],
)
def test_the_member_threshold_within_its_own_terms(
    over: dict[str, Any], floor: int, ceiling: int, expected: int
) -> None:
    t = table(floor=floor, ceiling=ceiling)
    watch = t.apply(alert(**over))
    assert watch is not None and watch.maxretry == expected
    assert t.maxretry(b"203.0.113.9") == expected


def test_alerts_end_when_they_expire_and_are_swept() -> None:
    clock = Clock()
    t = AlertTable("bravo", clock=clock)
    assert t.apply(alert(expires_at=NOW)) is None  # already over: never held
    t.apply(alert(expires_at=NOW + 60))
    assert t.maxretry(b"203.0.113.9") == 1
    clock.now = NOW + 60
    assert t.maxretry(b"203.0.113.9") is None
    assert t.expire() == 1 and len(t) == 0


def test_the_table_is_bounded_keeping_the_alerts_that_end_last() -> None:
    t = table(cap=100)
    for i in range(1000):
        t.apply(alert(f"10.{i // 256}.{i % 256}.1", id=i + 1, expires_at=NOW + 1 + i))
    assert len(t) <= 100
    assert t.dropped >= 900
    assert t.maxretry(b"10.3.231.1") == 1  # the last one (i = 999)
    assert t.maxretry(b"10.0.0.1") is None


def test_a_resync_holds_exactly_what_is_in_force() -> None:
    t = table()
    t.apply(alert("203.0.113.9"))
    assert t.replace([alert("198.51.100.0/24", id=2)]) == 1
    assert t.maxretry(b"203.0.113.9") is None
    assert t.maxretry(b"198.51.100.3") == 1


class FakeHub:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def alerts(self) -> Any:
        return self.answer


def test_fetch_counts_malformed_alerts_and_keeps_the_rest() -> None:
    good = wire.alert(alert())
    found, malformed = fetch(FakeHub({"alerts": [good, {**good, "target": "x"}, 7]}))
    assert [a.target for a in found] == ["203.0.113.9"] and malformed == 2
    with pytest.raises(ValueError, match="no 'alerts' list"):
        fetch(FakeHub({"decisions": []}))


# -- detectors ---------------------------------------------------------------------------

SSH = b"Mar  9 10:00:0%d web sshd[1]: Failed password for root from %s port 22 ssh2\n"


def ssh_lines(source: bytes, count: int) -> bytes:
    return b"".join(SSH % (i, source) for i in range(1, count + 1))


@pytest.mark.parametrize(
    ("source", "lines", "expected"),
    [
        pytest.param(b"203.0.113.9", 1, [("203.0.113.9", 1)], id="alerted-first-line"),
        pytest.param(b"198.51.100.5", 1, [], id="not-alerted-one-line"),
        pytest.param(b"2001:db8::9", 1, [("2001:db8::9", 1)], id="alerted-ipv6-first-line"),
    ],
)
def test_every_scenario_meets_an_alerted_source_at_its_first_line(
    source: bytes, lines: int, expected: list[tuple[str, int]]
) -> None:
    t = table()
    t.apply(alert("203.0.113.9"))
    t.apply(alert("2001:db8::9", id=2))
    engine = DetectionEngine(DetectConfig())
    engine.watch_alerts(t.maxretry)
    offences = engine.feed(ssh_lines(source, lines), time.time())
    assert [(o.source, o.events) for o in offences] == expected


def test_without_alerts_the_scenario_s_own_threshold_holds() -> None:
    engine = DetectionEngine(DetectConfig())
    engine.watch_alerts(table().maxretry)
    assert engine.feed(ssh_lines(b"203.0.113.9", 1), time.time()) == []


def test_an_alert_threshold_of_two_fires_on_the_second_quick_event() -> None:
    t = table()
    t.apply(alert(maxretry=2))
    bucket = BucketTable("s", capacity=4.0, leak=5 / 600, max_buckets=16)
    bucket.watch_alerts(t.maxretry)
    assert bucket.add(b"203.0.113.9", NOW, 1) is None
    offence = bucket.add(b"203.0.113.9", NOW + 1, 2)
    assert offence is not None and offence.events == 2


def test_an_alert_looser_than_the_detector_changes_nothing() -> None:
    t = table()
    t.apply(alert(maxretry=50))
    bucket = BucketTable("s", capacity=2.0, leak=0.01, max_buckets=16)
    bucket.watch_alerts(t.maxretry)
    assert [bucket.add(b"203.0.113.9", NOW + i, i) for i in range(2)] == [None, None]
    assert bucket.add(b"203.0.113.9", NOW + 2, 3) is not None  # the third, as without it


def test_a_drained_bucket_asks_again() -> None:
    t = table()
    bucket = BucketTable("s", capacity=4.0, leak=1.0, max_buckets=16)
    bucket.watch_alerts(t.maxretry)
    assert bucket.add(b"203.0.113.9", NOW, 1) is None  # counted before the alert
    t.apply(alert())
    offence = bucket.add(b"203.0.113.9", NOW + 100, 2)  # drained since: counted afresh
    assert offence is not None and offence.events == 1


def test_a_fail2ban_jail_meets_an_alerted_host_at_its_first_failure(tmp_path: Path) -> None:
    [source] = load(tree(tmp_path))  # maxretry = 3 in the jail
    detector = FilterDetector(source.rule)
    t = table()
    t.apply(alert())
    detector.watch_alerts(t.maxretry)
    offences = detector.feed(ssh_lines(b"203.0.113.9", 1) + ssh_lines(b"198.51.100.5", 1), NOW)
    assert [(o.scenario, o.source, o.events) for o in offences] == [
        ("fail2ban-sshd", "203.0.113.9", 1)
    ]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        pytest.param({"alerts": "yes"}, "true or false", id="alerts-not-bool"),
        pytest.param({"alert_maxretry_min": 0}, "alert_maxretry_min", id="floor-zero"),
        pytest.param(
            {"alert_maxretry_min": 3, "alert_maxretry_max": 2}, "below", id="ceiling-below-floor"
        ),
        pytest.param({"alert_maxretry": 2}, "unknown key", id="unknown-key"),
    ],
)
def test_the_member_s_alert_terms_are_checked(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(section)


def test_the_member_s_alert_terms_are_read() -> None:
    config = load_config({"alerts": False, "alert_maxretry_min": 2, "alert_maxretry_max": 3})
    assert (config.alerts, config.alert_maxretry_min, config.alert_maxretry_max) == (False, 2, 3)
    assert load_config({}).alerts is True


def test_an_alert_this_member_raised_or_has_served_is_not_held() -> None:
    t = table()
    assert t.apply(alert(member="bravo")) is None  # its own report: it caught it already
    t.apply(alert())
    t.apply(alert("198.51.100.0/24", id=2))
    t.discharge("203.0.113.9")  # caught and reported here
    t.discharge("198.51.100.7")  # inside a range on alert: the range stays
    assert t.maxretry(b"203.0.113.9") is None
    assert t.maxretry(b"198.51.100.7") == 1


def test_a_prefix_on_alert_is_reported_as_the_prefix_at_its_first_line() -> None:
    t = table()
    t.apply(alert("2001:db8:66:1::/64"))  # its reporter counted the attacker per /64
    engine = DetectionEngine(DetectConfig())  # IPv6 counted per /64 as well by default
    engine.watch_alerts(t.maxretry)
    offences = engine.feed(ssh_lines(b"2001:db8:66:1::77", 1), time.time())
    assert [(o.source, o.events) for o in offences] == [("2001:db8:66:1::/64", 1)]
