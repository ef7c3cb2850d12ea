"""fail2ban jails run by the agent: jail.conf/jail.local options, filters unchanged,
and every construct the agent cannot run refused with its file and line."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from shieldwall.agent.config import parse_config
from shieldwall.agent.detect.fail2ban import FilterDetector, Match
from shieldwall.agent.jails import JailSource, journal_matches, load_jail_sources

NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))

JAIL_CONF = """\
[INCLUDES]
before = paths-test.conf

[DEFAULT]
maxretry = 5
findtime = 10m
bantime = 1h
backend = auto

[sshd]
port = ssh
logpath = %(sshd_log)s

[web]
enabled = false
filter = web[status=401]
logpath = {root}/logs/*access.log head

[journal]
enabled = false
filter = sshd
backend = systemd
"""

JAIL_LOCAL = """\
[sshd]
enabled = true
maxretry = 3
findtime = 1h 30m
bantime = -1
ignoreip = 127.0.0.1/8 ::1 198.51.100.7
"""

COMMON = r"""
[DEFAULT]
_daemon = \S*
__prefix_line = \s*\S+ %(_daemon)s\[\d+\]:\s*
"""

SSHD = r"""
[INCLUDES]
before = common.conf
after = sshd-extra.conf

[Definition]
_daemon = sshd
prefregex = ^%(__prefix_line)s<F-CONTENT>.+</F-CONTENT>$
failregex = ^Failed \S+ for .* from <HOST> port \d+
            ^Invalid user <F-USER>\S+</F-USER> from <ADDR>
ignoreregex = for trusted
datepattern = {^LN-BEG}
journalmatch = _SYSTEMD_UNIT=sshd.service + _COMM=sshd
"""

SSHD_EXTRA = r"""
[Definition]
failregex = %(known/failregex)s
            ^Disconnecting: Too many authentication failures from <HOST>
"""

WEB = r"""
[Definition]
status = 403
failregex = ^<HOST> \S+ \S+ \[[^\]]+\] "[^"]*" <status>\b
"""


def tree(tmp_path: Path, **files: str) -> Path:
    """A fail2ban configuration directory; ``files`` replace or add files in it."""
    root = tmp_path / "fail2ban"
    (root / "filter.d").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "site-access.log").write_text("")
    contents = {
        "jail.conf": JAIL_CONF.format(root=tmp_path),
        "jail.local": JAIL_LOCAL,
        "paths-test.conf": f"[DEFAULT]\nsshd_log = {tmp_path}/logs/auth.log\n",
        "filter.d/common.conf": COMMON,
        "filter.d/sshd.conf": SSHD,
        "filter.d/sshd-extra.conf": SSHD_EXTRA,
        "filter.d/web.conf": WEB,
        **{k.replace("__", "/").replace("_", "."): v for k, v in files.items()},
    }
    for name, text in contents.items():
        (root / name).write_text(text)
    return root


def load(root: Path, **section: Any) -> list[JailSource]:
    return load_jail_sources({"jail": "jail.conf", **section}, root)


def test_enabled_jails_with_jail_local_includes_and_interpolation(tmp_path: Path) -> None:
    root = tree(tmp_path)
    [source] = load(root)
    rule = source.rule
    assert source.path == tmp_path / "logs" / "auth.log"  # %(sshd_log)s from [INCLUDES]
    assert source.journald is None and source.from_start is False
    assert rule.scenario == "fail2ban-sshd"
    assert (rule.maxretry, rule.findtime, rule.bantime) == (3, 5400.0, -1.0)  # jail.local
    assert rule.ban_seconds == math.inf
    assert rule.ignoreip == ("127.0.0.0/8", "::1", "198.51.100.7")
    assert rule.where.endswith("jail.local:2")
    # after = sshd-extra.conf added a failregex to the two of sshd.conf (%(known/...)s)
    assert len(rule.definition.failregex) == 3


def test_the_filter_runs_as_fail2ban_runs_it(tmp_path: Path) -> None:
    [source] = load(tree(tmp_path))
    detector = FilterDetector(source.rule)
    log = b"".join(
        [
            b"Mar  9 10:00:01 web sshd[1]: Failed password for root from 203.0.113.5 port 22\n",
            b"Mar  9 10:00:02 web sshd[1]: Failed password for trusted from 203.0.113.6 port 2\n",
            b"Mar  9 10:00:03 web sshd[2]: Invalid user bob from 203.0.113.5\n",
            b"Mar  9 10:00:04 web sshd[3]: Failed password for x from 198.51.100.7 port 22\n",
            b"Mar  9 10:00:05 web cron[4]: Failed password for x from 203.0.113.5 port 22\n",
            b"Mar  9 10:00:06 web sshd[5]: Disconnecting: Too many authentication failures "
            b"from 203.0.113.5\n",
        ]
    )
    matches: list[Match] = []
    offences = detector.feed(log, NOW, matches)
    # line 2 is ignored (ignoreregex), line 4 is ignoreip, line 5 is not sshd (prefregex)
    assert [(m.line, m.host) for m in matches] == [
        (1, "203.0.113.5"),
        (3, "203.0.113.5"),
        (6, "203.0.113.5"),
    ]
    assert matches[0].time == time.mktime((2024, 3, 9, 10, 0, 1, 0, 0, -1))  # datepattern
    assert [(o.scenario, o.source, o.events) for o in offences] == [
        ("fail2ban-sshd", "203.0.113.5", 3)  # maxretry = 3 from jail.local
    ]
    assert detector.ignored == 1


def test_failures_further_apart_than_findtime_do_not_add_up(tmp_path: Path) -> None:
    root = tree(tmp_path, jail_local=JAIL_LOCAL.replace("1h 30m", "60"))
    [source] = load(root)
    detector = FilterDetector(source.rule)
    lines = [
        f"Mar  9 10:0{m}:00 web sshd[1]: Failed password for root from 203.0.113.5 port 22\n"
        for m in (0, 2, 4, 6)
    ]
    assert detector.feed("".join(lines).encode(), NOW) == []


def test_chosen_jails_globs_head_and_systemd(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (tmp_path / "logs" / "other-access.log").write_text("")
    sources = load(root, jails=["web", "journal"])
    web = [s for s in sources if s.rule.scenario == "fail2ban-web"]
    assert [s.path for s in web] == [
        tmp_path / "logs" / "other-access.log",
        tmp_path / "logs" / "site-access.log",
    ]
    assert all(s.from_start for s in web)  # "head"
    pattern = web[0].rule.definition.failregex[0].regex.pattern
    assert pattern.endswith('" 401\\b')  # the filter argument status=401 won over 403
    [journal] = [s for s in sources if s.rule.scenario == "fail2ban-journal"]
    assert journal.path is None
    assert journal.journald == ("_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd")


def test_journal_matches_join_lines_with_or() -> None:
    assert journal_matches([("_SYSTEMD_UNIT=a.service",), ("_COMM=b", "_PID=1")]) == (
        "_SYSTEMD_UNIT=a.service",
        "+",
        "_COMM=b",
        "_PID=1",
    )


@pytest.mark.parametrize(
    ("files", "section", "message"),
    [
        pytest.param({}, {"jials": ["sshd"]}, "[fail2ban] unknown key 'jials'", id="unknown-key"),
        pytest.param({}, {"jail": ""}, "[fail2ban] jail = '' must name jail.conf", id="no-path"),
        pytest.param({}, {"jails": "sshd"}, "jails = 'sshd' must be a list", id="jails-string"),
        pytest.param({}, {"jails": ["ssh"]}, "'ssh' is not a jail of", id="unknown-jail"),
        pytest.param(
            {"jail_local": ""}, {}, "no jail is enabled in", id="nothing-enabled"
        ),
        pytest.param(
            {"filter.d__sshd.conf": SSHD.replace("[Definition]", "[Definition]\nmaxlines = 0")},
            {},
            "sshd.conf:7: maxlines = '0' is not a whole number from 1 to 1000",
            id="bad-maxlines-with-file-and-line",
        ),
        pytest.param(
            {"filter.d__sshd.conf": SSHD.replace("from <ADDR>", "from somebody")},
            {},
            "sshd-extra.conf:3: failregex #2 captures no host",
            id="failregex-without-host-with-file-and-line",
        ),
        pytest.param(
            {"filter.d__sshd.conf": SSHD.replace("%(__prefix_line)s", "%(nowhere)s")},
            {},
            "sshd.conf:8: option 'prefregex' refers to %(nowhere)s, which is not defined",
            id="undefined-interpolation",
        ),
        pytest.param(
            {"filter.d__sshd.conf": SSHD.replace("prefregex = ^%(__prefix_line)s<F-CONTENT>.+"
                                                 "</F-CONTENT>$", "prefregex = ^%(__prefix_line)s")},
            {},
            "prefregex has no <F-CONTENT>",
            id="prefregex-without-content",
        ),
        pytest.param(
            {"filter.d__sshd.conf": SSHD.replace("{^LN-BEG}", "%Q")},
            {},
            "sshd.conf:12: datepattern '%Q' uses %Q, which is not supported",
            id="bad-datepattern",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "backend = polling2\n"},
            {},
            "backend 'polling2' is not supported",
            id="unknown-backend",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "backend = systemd[journalflags=1]\n"},
            {},
            "systemd options are not supported here",
            id="systemd-options",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "logpath = /nowhere/*.log\n"},
            {},
            "logpath '/nowhere/*.log' matches no file",
            id="glob-matches-nothing",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "filter = absent\n"},
            {},
            "filter.d/absent.conf: file not found",
            id="missing-filter",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "bantime = 0\n"}, {}, "bantime = 0 bans nothing", id="ban0"
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL + "ignoreip = office.example.org\n"},
            {},
            "jail.local:7: ignoreip entry 'office.example.org' is not an IP address",
            id="ignoreip-host-name",
        ),
        pytest.param(
            {"jail_local": JAIL_LOCAL.replace("[sshd]", "[ssh d]\nfilter = sshd")},
            {"jails": ["ssh d"]},
            "jail name 'ssh d' cannot name a scenario",
            id="jail-name",
        ),
    ],
)  # fmt: skip
def test_refusals_name_the_file_line_and_fix(
    tmp_path: Path, files: dict[str, str], section: dict[str, Any], message: str
) -> None:
    root = tree(tmp_path, **files)
    with pytest.raises(ValueError) as info:
        load(root, **section)
    assert message in str(info.value)
    assert str(info.value).startswith("[fail2ban]")


def test_agent_config_runs_the_jails(tmp_path: Path) -> None:
    root = tree(tmp_path)
    data = {
        "agent": {"name": "web-1", "hub": "http://127.0.0.1:8470", "key": "k", "data": "d"},
        "sources": [{"path": "auth.log"}],
        "fail2ban": {"jail": str(root / "jail.conf")},
    }
    config = parse_config(data, "agent.toml", tmp_path)
    plain, jail = config.sources
    assert plain.rule is None and plain.label == str(tmp_path / "auth.log")
    assert jail.rule is not None
    assert jail.label == f"fail2ban-sshd:{tmp_path / 'logs' / 'auth.log'}"
    assert "198.51.100.7" in config.policy.protected  # ignoreip is never blocked
    with pytest.raises(ValueError, match=r"^agent\.toml: \[fail2ban\] jails: 'x' is not a jail"):
        parse_config({**data, "fail2ban": {"jail": str(root / "jail.conf"), "jails": ["x"]}},
                     "agent.toml", tmp_path)  # fmt: skip
