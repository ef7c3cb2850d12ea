from __future__ import annotations

import time
from pathlib import Path

import pytest

from shieldwall.agent.detect import (
    SCENARIOS,
    DetectConfig,
    DetectionEngine,
    Offence,
    load_config,
)
from shieldwall.agent.detect.buckets import BucketTable
from shieldwall.core.model import Signal

DATA = Path(__file__).parent / "data"
NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))


def run(name: str, *scenarios: str) -> tuple[DetectionEngine, list[Offence]]:
    config = DetectConfig().only(list(scenarios)) if scenarios else DetectConfig()
    engine = DetectionEngine(config, record_events=True)
    return engine, engine.feed((DATA / name).read_bytes(), NOW)


@pytest.mark.parametrize(
    ("log", "scenario", "lines", "offenders"),
    [
        pytest.param(
            "auth.log", "ssh-bruteforce",
            [3, 6, 9, 10, 12, 13, 16, 17, 18, 19, 20, 21, 36, 37, 42, 49, 50, 51, 52, 53, 54],
            ["203.0.113.45", "198.51.100.23"], id="ssh-bruteforce",
        ),
        pytest.param(
            "auth.log", "ssh-preauth", [8, 11, 14, 22, 23, 29, 30, 31, 34, 35, 38], [],
            id="ssh-preauth",
        ),
        pytest.param("access.log", "http-scan", [*range(3, 33), 47],
                     ["198.51.100.14"], id="http-scan"),
        pytest.param("access.log", "http-sensitive-path", [3, 4, 5, 6, 7], ["203.0.113.77"],
                     id="http-sensitive-path"),
        pytest.param("access.log", "http-bad-user-agent", [33, 34], ["198.51.100.200", "2001:db8::bad"],
                     id="http-bad-user-agent"),
        pytest.param("access.log", "http-auth-bruteforce", list(range(35, 47)), ["203.0.113.90"],
                     id="http-auth-bruteforce"),
        pytest.param("mail.log", "postfix-auth", [2, 3, 4, 5, 6], ["203.0.113.150"], id="postfix"),
        pytest.param("mail.log", "dovecot-auth", [8, 9, 11, 12, 13], ["198.51.100.30"], id="dovecot"),
    ],
)  # fmt: skip
def test_scenario_matches_lines_and_offenders(
    log: str, scenario: str, lines: list[int], offenders: list[str]
) -> None:
    engine, offences = run(log, scenario)
    assert [e.line for e in engine.events] == lines
    assert {e.scenario for e in engine.events} <= {scenario}
    assert [o.source for o in offences] == offenders


def test_offence_record_and_signal() -> None:
    _engine, offences = run("auth.log", "ssh-bruteforce")
    first = offences[0]
    assert first.scenario == "ssh-bruteforce"
    assert first.events == 5
    assert first.sample_lines == (3, 6, 9, 10, 12)
    assert first.last_seen - first.first_seen == 10.0
    signal = first.to_signal("member-1")
    assert signal == Signal("member-1", "203.0.113.45", "ssh-bruteforce", first.last_seen, 5)


def test_ipv4_mapped_source_is_the_ipv4_address() -> None:
    engine, _ = run("auth.log", "ssh-bruteforce")
    assert engine.events[-1].source == "198.51.100.99"


def test_chunked_feed_equals_whole_feed() -> None:
    data = (DATA / "auth.log").read_bytes()
    whole = DetectionEngine(record_events=True)
    expected = whole.feed(data, NOW)
    split = DetectionEngine(record_events=True)
    got: list[Offence] = []
    lines = data.splitlines(keepends=True)
    for i in range(0, len(lines), 7):
        got.extend(split.feed(b"".join(lines[i : i + 7]), NOW))
    assert got == expected
    assert [e.line for e in split.events] == [e.line for e in whole.events]


def test_bucket_leaks_so_slow_attempts_never_offend() -> None:
    table = BucketTable("ssh-bruteforce", capacity=3, leak=1 / 60, max_buckets=100)
    # one attempt every two minutes: the bucket drains between them
    assert all(table.add(b"203.0.113.9", 120.0 * i, i) is None for i in range(20))
    burst = [table.add(b"203.0.113.9", 5000.0 + i, 100 + i) for i in range(4)]
    assert burst[:3] == [None, None, None]
    assert burst[3] is not None and burst[3].events == 4
    # the drained bucket started afresh: only the burst's lines are its samples
    assert burst[3].sample_lines == (100, 101, 102, 103)


def test_an_offence_keeps_the_lines_of_its_first_events_only() -> None:
    table = BucketTable("ssh-bruteforce", capacity=10, leak=1 / 60, max_buckets=100)
    raised = [table.add(b"203.0.113.9", 1000.0 + i, 40 + i) for i in range(11)]
    assert raised[:10] == [None] * 10
    offence = raised[10]
    assert offence is not None and offence.events == 11
    assert offence.sample_lines == (40, 41, 42, 43, 44)
    assert offence.first_seen == 1000.0 and offence.last_seen == 1010.0


def test_bucket_table_is_bounded_in_a_storm() -> None:
    table = BucketTable("http-scan", capacity=50, leak=0.001, max_buckets=1000)
    for i in range(100_000):
        table.add(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}".encode(), 1000.0, i)
    assert len(table) <= 1000
    assert table.dropped > 0


def test_garbage_address_is_never_reported() -> None:
    table = BucketTable("ssh-bruteforce", capacity=1, leak=1, max_buckets=10)
    assert table.add(b"999.1.1.1", 1.0, 1) is None


def test_scenario_names_are_stable() -> None:
    assert sorted(SCENARIOS) == sorted([
        "ssh-bruteforce", "ssh-preauth", "http-scan", "http-sensitive-path",
        "http-bad-user-agent", "http-auth-bruteforce", "postfix-auth", "dovecot-auth",
    ])  # fmt: skip


def test_config_count_window_and_disable() -> None:
    config = load_config(
        {
            "max_buckets": 5000,
            "scenarios": {
                "ssh-bruteforce": {"count": 3, "window": 60},
                "http-scan": {"capacity": 40, "leak_rate": 0.5},
                "http-bad-user-agent": {"enabled": False},
            },
        }
    )
    assert config.thresholds["ssh-bruteforce"].capacity == 2
    assert config.thresholds["ssh-bruteforce"].leak_rate == pytest.approx(0.05)
    assert config.thresholds["http-scan"].leak_rate == 0.5
    assert "http-bad-user-agent" not in config.enabled
    assert config.max_buckets == 5000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"scenarios": {"ssh-brute": {}}}, "unknown scenario in detect.scenarios 'ssh-brute'",
                     id="unknown-scenario"),
        pytest.param({"scenarios": {"http-scan": {"count": 5}}}, "count and window go together",
                     id="count-without-window"),
        pytest.param({"scenarios": {"http-scan": {"count": 0, "window": 5}}},
                     "detect.scenarios.http-scan.count = 0 must be > 0", id="zero-count"),
        pytest.param({"scenarios": {"http-scan": {"capacity": 5, "window": 5}}}, "not both",
                     id="mixed-forms"),
        pytest.param({"scenarios": {"http-scan": {"leak": 5}}}, "unknown key 'leak'", id="bad-key"),
        pytest.param({"scenarios": {"http-scan": {"enabled": "yes"}}}, "must be true or false",
                     id="enabled-not-bool"),
        pytest.param({"buckets": 5}, "detect: unknown key 'buckets'", id="unknown-top-key"),
        pytest.param({"max_buckets": "many"}, "detect.max_buckets = 'many' is not a number",
                     id="max-buckets-text"),
    ],
)  # fmt: skip
def test_config_errors_name_the_value(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError, match=message):
        load_config(data)


SSH_FAIL = b"Mar  9 10:00:00 web sshd[7]: Failed password for root from 203.0.113.5 port 22 ssh2"


@pytest.mark.parametrize(
    ("line", "hits"),
    [
        pytest.param(SSH_FAIL + b" " + b"z" * 100_000, 1, id="long-line-match-at-start"),
        pytest.param(
            b"Mar  9 10:00:00 web sshd[7]: Failed password for "
            + b"a from " * 30_000
            + b"203.0.113.5 port 22 ssh2",
            0,
            id="match-beyond-the-window",
        ),
        pytest.param(
            # the window ends after "rip=203.0.113.5" of "rip=203.0.113.55"
            b"Mar  9 10:00:00 web dovecot: auth failed, user=<"
            + b"u" * 1982
            + b">, rip=203.0.113.55, lip=192.0.2.1"
            + b" " * 100,
            0,
            id="address-at-the-window-edge-is-not-trusted",
        ),
        pytest.param(
            b"Mar  9 10:00:00 web dovecot: auth failed, user=<"
            + b"u" * 1500
            + b">, rip=203.0.113.5, lip=192.0.2.1",
            1,
            id="long-but-inside-the-window",
        ),
    ],
)
def test_syslog_scenarios_read_the_start_of_long_lines(line: bytes, hits: int) -> None:
    """A hostile line of megabytes repeating a daemon's tag is read only as far as any
    daemon writes (SYSLOG_SCAN), and an address cut by that window is never read."""
    engine = DetectionEngine(record_events=True)
    engine.feed(line + b"\n" + SSH_FAIL + b"\n", NOW)
    assert [e.line for e in engine.events] == [1] * hits + [2]
    assert {e.source for e in engine.events} == {"203.0.113.5"}
