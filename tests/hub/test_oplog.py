"""The hub's operational log: one line per join, approval, decision, revocation, refusal."""

from __future__ import annotations

import json
import logging

import pytest

from shieldwall.client import HubError
from shieldwall.logs import JsonFormatter, TextFormatter, duration, formatter, iso, progress_line

from .conftest import Hub

ATTACKER = "203.0.113.9"


def _report(client, target: str = ATTACKER) -> dict:
    return client.submit(
        [{"target": target, "scenario": "ssh-bruteforce", "at": client._clock(), "events": 6}]
    )


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "shieldwall.hub"]


def test_one_line_per_event_that_matters(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shieldwall.hub")
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    _report(alpha)
    decision_id = _report(bravo)["decisions"][0]
    hub.admin().revoke(decision_id, "false positive")
    with pytest.raises(HubError):
        _report(alpha, "not-an-address")
    lines = _lines(caplog)

    def one(prefix: str) -> str:
        found = [line for line in lines if line.startswith(prefix)]
        assert len(found) == 1, (prefix, lines)
        return found[0]

    assert one("join name=alpha ") == "join name=alpha addresses=192.0.2.10"
    assert one("approval name=bravo ") == "approval name=bravo by=secretariat"
    decision = one("decision ")
    assert f"id={decision_id} target={ATTACKER} action=ban clause=art5.quorum" in decision
    assert "treaty=nato@1" in decision and "members=alpha,bravo" in decision
    expires = hub.sec.council.decision(decision_id).expires_at
    assert f"until={iso(expires)}" in decision
    assert one("revocation ") == (
        f"revocation decision={decision_id} target={ATTACKER} clause=admin-revoke "
        'by=secretariat reason="false positive"'
    )
    refused = one("batch_refused ")
    assert refused.startswith("batch_refused member=alpha code=invalid_address")
    assert "not-an-address" in refused


def test_log_lines_carry_no_secrets(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub.member("alpha", "192.0.2.10")
    public = hub.sec.identities["alpha"].public_text
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert hub.token not in text
    assert public not in text


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("shieldwall.hub", logging.INFO, __file__, 1, message, (), None)
    record.created = 1_800_000_000.5
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.parametrize(
    ("formatter", "expected"),
    [
        pytest.param(
            TextFormatter(stamp=True),
            "2027-01-15T08:00:00Z INFO shieldwall.hub join name=alpha",
            id="text-stamped",
        ),
        pytest.param(
            TextFormatter(stamp=False), "INFO shieldwall.hub join name=alpha", id="text-journald"
        ),
    ],
)
def test_text_format(formatter: logging.Formatter, expected: str) -> None:
    assert formatter.format(_record("join name=alpha")) == expected


def test_json_format_has_the_event_fields() -> None:
    record = _record(
        "decision id=3",
        shieldwall_event="decision",
        shieldwall_fields={"id": 3, "target": "2001:db8::1"},
    )
    line = json.loads(JsonFormatter().format(record))
    assert line == {
        "time": "2027-01-15T08:00:00Z",
        "level": "info",
        "logger": "shieldwall.hub",
        "event": "decision",
        "id": 3,
        "target": "2001:db8::1",
        "message": "decision id=3",
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(45, "45s", id="seconds"),
        pytest.param(5400, "1h30m", id="hours-minutes"),
        pytest.param(7 * 86400, "7d", id="week"),
        pytest.param(86400 + 3 * 3600 + 59, "1d3h", id="two-units-at-most"),
        pytest.param(float("inf"), "forever", id="forever"),
    ],
)
def test_human_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("environ", "stamped"),
    [
        pytest.param({}, True, id="terminal"),
        pytest.param({"JOURNAL_STREAM": "8:123456"}, False, id="systemd-journal"),
    ],
)
def test_no_timestamp_of_our_own_under_the_journal(environ: dict[str, str], stamped: bool) -> None:
    fmt = formatter("text", environ)
    assert isinstance(fmt, TextFormatter) and fmt.stamp is stamped


def test_agent_progress_lines_have_iso_times_and_human_durations() -> None:
    line = progress_line(
        "defended", {"target": "203.0.113.9", "until": 1_800_007_200.0, "ban": 5400.0}, 1.8e9
    )
    assert line == (
        "2027-01-15T08:00:00Z defended target=203.0.113.9 until=2027-01-15T10:00:00Z ban=1h30m"
    )
    assert progress_line("started", {"sources": ["a.log", "b.log"]}, 1.8e9, stamp=False) == (
        "started sources=a.log,b.log"
    )
