from __future__ import annotations

import time
from pathlib import Path

import pytest

from shieldwall.interop.fail2ban.config import ConfigError
from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter, parse_filter_spec
from shieldwall.interop.fail2ban.jail import load_jails, parse_duration

NOW = time.mktime((2024, 3, 10, 0, 0, 0, 0, 0, -1))


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


COMMON = """
[INCLUDES]
after = common.local

[DEFAULT]
_daemon = \\S*
__prefix_line = \\s*(?:\\S+\\s+)?<_daemon>(?:\\[\\d+\\])?:\\s+
"""


def test_includes_interpolation_tags_and_lists(tmp_path: Path) -> None:
    write(tmp_path, "common.conf", COMMON)
    write(tmp_path, "common.local", "[DEFAULT]\n_daemon = myapp\n")
    path = write(
        tmp_path,
        "myapp.conf",
        """
[INCLUDES]
before = common.conf

[Definition]
_word = (?:denied|refused)
prefregex = ^%(__prefix_line)s<F-CONTENT>.+</F-CONTENT>$
failregex = ^login %(_word)s for <F-USER>\\S+</F-USER> from <HOST>$
    # a comment inside the list
            ^too many tries from <ADDR>
            ^<mode-<mode>>
mode = strict
mode-strict = bad token from <IP4>
mode-lax =
ignoreregex = for trusted
datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S
journalmatch = _SYSTEMD_UNIT=myapp.service + _COMM=myapp
""",
    )
    definition = load_filter(path)
    assert [r.source for r in definition.failregex] == [
        "^login (?:denied|refused) for <F-USER>\\S+</F-USER> from <HOST>$",
        "^too many tries from <ADDR>",
        "^bad token from <IP4>",
    ]
    assert definition.journalmatch == (("_SYSTEMD_UNIT=myapp.service", "+", "_COMM=myapp"),)
    assert definition.datepattern == "^%Y-%m-%d %H:%M:%S"
    log = (
        b"2024-03-03 10:00:00 host1 myapp[12]: login denied for bob from 203.0.113.5\n"
        b"2024-03-03 10:00:01 host1 otherapp[13]: login denied for bob from 203.0.113.6\n"
        b"2024-03-03 10:00:02 host1 myapp[12]: login refused for trusted from 203.0.113.7\n"
        b"2024-03-03 10:00:03 host1 myapp[12]: too many tries from [2001:db8::5]\n"
        b"2024-03-03 10:00:04 host1 myapp[12]: bad token from ::ffff:198.51.100.4\n"
    )
    results = FilterEngine(definition).feed(log, NOW)
    assert [(r.line, r.host) for r in results if r.matched] == [
        (1, "203.0.113.5"),
        (4, "2001:db8::5"),
        (5, "198.51.100.4"),
    ]
    assert results[0].time == time.mktime((2024, 3, 3, 10, 0, 0, 0, 0, -1))


def test_filter_arguments_override_definition(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "f.conf",
        "[Definition]\nfailregex = ^<re-<mode>> <HOST>$\nmode = a\nre-a = aaa\nre-b = bbb\n",
    )
    name, args = parse_filter_spec("f[mode=b]")
    assert name == "f"
    definition = load_filter(path, args)
    assert definition.failregex[0].regex.pattern.startswith("^bbb ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("failregex = x <HOST>\n", "f.conf:1: option before any [section]",
                     id="no-section"),
        pytest.param("[Definition]\nfailregex = ^(unclosed <HOST>\n",
                     "f.conf:2: failregex #1 '^(unclosed <HOST>' is not a valid regular expression",
                     id="bad-regex"),
        pytest.param("[Definition]\nfailregex = ^a %(missing)s <HOST>\n",
                     "f.conf:2: option 'failregex' refers to %(missing)s", id="missing-variable"),
        pytest.param("[Definition]\nmaxlines = 3\nfailregex = ^a <HOST>\n",
                     "f.conf:2: maxlines = 3 (multi-line matching) is not supported",
                     id="multi-line"),
        pytest.param("[Definition]\nfailregex = ^a<SKIPLINES>b <HOST>\n",
                     "f.conf:2: failregex #1: <SKIPLINES>", id="skiplines"),
        pytest.param("[Definition]\nfailregex =\n", "failregex is empty", id="empty"),
        pytest.param("[Definition]\nprefregex = ^x\nfailregex = ^a <HOST>\n",
                     "f.conf:2: prefregex has no <F-CONTENT>", id="prefregex-content"),
        pytest.param("[Definition]\ndatepattern = %Q\nfailregex = ^a <HOST>\n",
                     "f.conf:2: datepattern '%Q' uses %Q", id="datepattern"),
        pytest.param("[INCLUDES]\nsomething = x\n[Definition]\nfailregex = a <HOST>\n",
                     "f.conf:2: unsupported option 'something' in [INCLUDES]", id="includes"),
        pytest.param("[Definition]\nthis line is wrong\n", "f.conf:2: cannot parse",
                     id="garbage-line"),
    ],
)  # fmt: skip
def test_problems_are_reported_with_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "f.conf", text)
    with pytest.raises(ConfigError) as info:
        load_filter(path)
    assert message in str(info.value)


def test_missing_filter_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_filter(tmp_path / "nope.conf")


def test_jails_with_defaults_local_and_durations(tmp_path: Path) -> None:
    write(
        tmp_path,
        "jail.conf",
        """
[DEFAULT]
ignoreip = 127.0.0.1/8 ::1
findtime = 10m
bantime = 1h
maxretry = 5

[sshd]
port = ssh
logpath = /var/log/auth.log
          /var/log/secure
filter = sshd[mode=aggressive]

[nginx-http-auth]
enabled = true
maxretry = 3
bantime = -1
""",
    )
    write(tmp_path, "jail.local", "[sshd]\nenabled = true\nfindtime = 1h 30m\n")
    jails = {j.name: j for j in load_jails(tmp_path / "jail.conf")}
    sshd = jails["sshd"]
    assert sshd.enabled and sshd.filter == "sshd" and sshd.filter_args == {"mode": "aggressive"}
    assert (sshd.maxretry, sshd.findtime, sshd.bantime) == (5, 5400.0, 3600.0)
    assert sshd.ignoreip == ("127.0.0.0/8", "::1")
    assert sshd.logpath == ("/var/log/auth.log", "/var/log/secure")
    web = jails["nginx-http-auth"]
    assert (web.filter, web.maxretry, web.bantime) == ("nginx-http-auth", 3, -1.0)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param("600", 600.0, id="plain"),
        pytest.param("10m", 600.0, id="minutes"),
        pytest.param("1d 2h", 93600.0, id="compound"),
        pytest.param("-1", -1.0, id="permanent"),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "x") == seconds


def test_bad_jail_values_name_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "jail.conf", "[sshd]\nenabled = true\nmaxretry = many\n")
    with pytest.raises(ConfigError, match=r"jail.conf:3: maxretry = 'many' is not a whole number"):
        load_jails(tmp_path / "jail.conf")
    write(tmp_path, "jail.conf", "[sshd]\nignoreip = localhost\n")
    with pytest.raises(ConfigError, match=r"jail.conf:2: ignoreip entry 'localhost'"):
        load_jails(tmp_path / "jail.conf")
