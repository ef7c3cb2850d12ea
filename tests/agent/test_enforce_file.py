"""The file enforcer: one target a line, rewritten atomically, optional reload."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.agent.enforce.base import CommandResult, EnforcerError, Entry, RecordingRunner
from shieldwall.agent.enforce.file import FileEnforcer


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def entry(target: str, expires: float, decision_id: int) -> Entry:
    return Entry(target, "range" if "/" in target else "ip", expires, decision_id)


def test_sync_writes_sorted_lines(tmp_path: Path) -> None:
    path = tmp_path / "blocked.txt"
    enforcer = FileEnforcer(path, clock=Clock(100.0))
    enforcer.sync(
        [
            entry("2001:db8::9", 200, 1),
            entry("203.0.113.9", 200, 2),
            entry("10.0.0.0/8", 200, 3),
            entry("9.9.9.9", 50, 4),
        ]
    )
    assert path.read_text() == "10.0.0.0/8\n203.0.113.9\n2001:db8::9\n"
    assert [p.name for p in tmp_path.iterdir()] == ["blocked.txt"], "no temporary file left"


def test_apply_rewrites_only_on_membership_change(tmp_path: Path) -> None:
    path = tmp_path / "blocked.txt"
    enforcer = FileEnforcer(path, clock=Clock(100.0))
    enforcer.sync([])
    enforcer.apply([entry("203.0.113.9", 200, 1)], [])
    assert path.read_text() == "203.0.113.9\n"
    writes = enforcer.writes
    enforcer.apply([entry("203.0.113.9", 300, 2)], [])  # same target, longer: no new line
    assert enforcer.writes == writes
    enforcer.apply([], [entry("203.0.113.9", 0, 1), entry("203.0.113.9", 0, 2)])
    assert path.read_text() == ""


def test_expire_drops_ended_entries(tmp_path: Path) -> None:
    path = tmp_path / "blocked.txt"
    clock = Clock(100.0)
    enforcer = FileEnforcer(path, clock=clock)
    enforcer.sync([entry("203.0.113.9", 150, 1), entry("203.0.113.10", 500, 2)])
    assert enforcer.expire() == 0
    clock.now = 200.0
    assert enforcer.expire() == 1
    assert path.read_text() == "203.0.113.10\n"


def test_line_format_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "deny.conf"
    runner = RecordingRunner()
    enforcer = FileEnforcer(
        path,
        line_format="deny {target};",
        reload=["nginx", "-s", "reload"],
        runner=runner,
        clock=Clock(0.0),
    )
    enforcer.sync([entry("203.0.113.9", 10, 1)])
    assert path.read_text() == "deny 203.0.113.9;\n"
    assert runner.calls == [(("nginx", "-s", "reload"), None)]


def test_failed_reload_is_reported(tmp_path: Path) -> None:
    runner = RecordingRunner(results=[CommandResult(1, "", "nginx: [emerg] bad config\n")])
    enforcer = FileEnforcer(tmp_path / "f", reload=["nginx", "-s", "reload"], runner=runner)
    with pytest.raises(EnforcerError, match=r"nginx -s reload failed with exit code 1: nginx"):
        enforcer.sync([])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"line_format": "deny;"}, "line_format 'deny;' is invalid", id="no-target"),
        pytest.param(
            {"line_format": "{target} {other}"}, "has fields other than", id="other-field"
        ),
        pytest.param({"line_format": "{target}\nx"}, "is invalid", id="newline"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FileEnforcer(tmp_path / "f", **kwargs)  # type: ignore[arg-type]


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"directory .*nowhere.* does not exist"):
        FileEnforcer(tmp_path / "nowhere" / "f")
