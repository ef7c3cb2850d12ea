from __future__ import annotations

import time
from pathlib import Path

import pytest

from shieldwall.interop.fail2ban.config import ConfigError, read_config
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
        pytest.param("[Definition]\nmaxlines = 0\nfailregex = ^a <HOST>\n",
                     "f.conf:2: maxlines = '0' is not a whole number from 1 to 1000",
                     id="maxlines-zero"),
        pytest.param("[Definition]\nmaxlines = 5000\nfailregex = ^a <HOST>\n",
                     "f.conf:2: maxlines = '5000' is not a whole number from 1 to 1000",
                     id="maxlines-huge"),
        pytest.param("[Definition]\nfailregex = ^a <HOST>\n  ^no host here\n",
                     "f.conf:2: failregex #2 captures no host ('^no host here')",
                     id="failregex-without-host"),
        pytest.param("[Definition]\nfailregex =\n", "failregex is empty", id="empty"),
        pytest.param("[Definition]\nprefregex = ^x\nfailregex = ^a <HOST>\n",
                     "f.conf:2: prefregex has no <F-CONTENT>", id="prefregex-content"),
        pytest.param("[Definition]\ndatepattern = %Q\nfailregex = ^a <HOST>\n",
                     "f.conf:2: datepattern '%Q' uses %Q", id="datepattern"),
        pytest.param("[INCLUDES]\nsomething = x\n[Definition]\nfailregex = a <HOST>\n",
                     "f.conf:2: unsupported option 'something' in [INCLUDES]", id="includes"),
        pytest.param("[Definition]\nthis line is wrong\n", "f.conf:2: cannot parse",
                     id="garbage-line"),
        pytest.param("[Definition]\nfailregex = ^(?P<users>\\S+) from <HOST>\n",
                     "names a group 'users': the connection-id merge keeps that name",
                     id="merge-group"),
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


def test_non_utf8_local_file_is_named(tmp_path: Path) -> None:
    write(tmp_path, "f.conf", "[Definition]\nfailregex = ^a <HOST>\n")
    (tmp_path / "f.local").write_bytes(b"[Definition]\nfailregex = ^caf\xe9 <HOST>\n")
    with pytest.raises(ConfigError, match=r"f\.local: not UTF-8 text \(byte 29\): save"):
        load_filter(tmp_path / "f.conf")


def test_local_files_have_includes_and_come_after_the_after_includes(tmp_path: Path) -> None:
    # fail2ban's order: before, f.conf, after, then f.local with its own before/after
    write(tmp_path, "f.conf", "[INCLUDES]\nafter = a.conf\n[Definition]\nv = conf\n"
                              "failregex = ^<v> <HOST>\n")  # fmt: skip
    write(tmp_path, "a.conf", "[Definition]\nv = after\n")
    write(tmp_path, "f.local", "[INCLUDES]\nbefore = lb.conf\nafter = la.conf\n"
                               "[Definition]\nw = local\n")  # fmt: skip
    write(tmp_path, "lb.conf", "[Definition]\nv = local-before\nw = local-before\n")
    write(tmp_path, "la.conf", "[Definition]\nw = local-after %(known/w)s\n")
    definition = load_filter(tmp_path / "f.conf")
    assert definition.failregex[0].source == "^local-before <HOST>"
    config = read_config(tmp_path / "f.conf")
    assert [p.name for p in config.files] == ["f.conf", "a.conf", "lb.conf", "f.local", "la.conf"]
    assert config.get("Definition", "w").text == "local-after local"  # type: ignore[union-attr]


def test_include_loops_are_skipped_as_fail2ban_skips_them(tmp_path: Path) -> None:
    write(
        tmp_path, "f.conf", "[INCLUDES]\nbefore = g.conf\n[Definition]\nfailregex = ^<x> <HOST>\n"
    )
    write(tmp_path, "g.conf", "[INCLUDES]\nbefore = f.conf\n[Definition]\nx = from-g\n")
    assert load_filter(tmp_path / "f.conf").failregex[0].source == "^from-g <HOST>"


def test_known_falls_back_to_default(tmp_path: Path) -> None:
    # as Debian's sendmail filters extend common.conf's [DEFAULT] __prefix_line
    write(tmp_path, "common.conf", "[DEFAULT]\npre = \\S+ app:\n")
    write(tmp_path, "f.conf", "[INCLUDES]\nbefore = common.conf\n[Definition]\n"
                              "pre = %(known/pre)s \\w+:\nfailregex = ^%(pre)s <HOST>\n")  # fmt: skip
    assert load_filter(tmp_path / "f.conf").failregex[0].source == "^\\S+ app: \\w+: <HOST>"


def test_filter_drop_in_directory(tmp_path: Path) -> None:
    write(tmp_path, "f.conf", "[Definition]\nfailregex = ^conf <HOST>\n")
    (tmp_path / "f.d").mkdir()
    write(tmp_path, "f.d/10-more.conf", "[Definition]\nfailregex = ^drop-in <HOST>\n")
    write(tmp_path, "f.local", "[Definition]\nfailregex = ^local <HOST>\n")
    write(tmp_path, "f.d/20-last.local", "[Definition]\nfailregex = %(known/failregex)s\n"
                                         "    ^drop-in-local <HOST>\n")  # fmt: skip
    assert [r.source for r in load_filter(tmp_path / "f.conf").failregex] == [
        "^local <HOST>",
        "^drop-in-local <HOST>",
    ]


def test_jail_d_local_files_are_read_last(tmp_path: Path) -> None:
    write(tmp_path, "jail.conf", "[sshd]\nmaxretry = 1\nfindtime = 1\nbantime = 1\n")
    (tmp_path / "jail.d").mkdir()
    write(tmp_path, "jail.d/a.conf", "[sshd]\nmaxretry = 2\nfindtime = 2\nbantime = 2\n")
    write(tmp_path, "jail.local", "[sshd]\nmaxretry = 3\nfindtime = 3\n")
    write(tmp_path, "jail.d/only.local", "[sshd]\nmaxretry = 4\nenabled = true\n")
    [sshd] = load_jails(tmp_path / "jail.conf")
    assert (sshd.maxretry, sshd.findtime, sshd.bantime, sshd.enabled) == (4, 3.0, 2.0, True)
    assert sshd.where == f"{tmp_path}/jail.d/only.local:3"
    assert sshd.where_of("maxretry") == f"{tmp_path}/jail.d/only.local:2"
    assert sshd.where_of("findtime") == f"{tmp_path}/jail.local:3"
    assert sshd.where_of("bantime") == f"{tmp_path}/jail.d/a.conf:4"


def test_jail_options_are_located_where_they_are_set(tmp_path: Path) -> None:
    write(tmp_path, "jail.conf", "[DEFAULT]\nbackend = auto\n\n[sshd]\nlogpath = /var/log/auth.log\n"
                                 "\n[web]\nfilter = nginx-http-auth\n")  # fmt: skip
    jails = {j.name: j for j in load_jails(tmp_path / "jail.conf")}
    sshd, web = jails["sshd"], jails["web"]
    assert sshd.where == f"{tmp_path}/jail.conf:4"  # not enabled here: its section
    assert sshd.where_of("backend") == f"{tmp_path}/jail.conf:2"  # from [DEFAULT]
    assert sshd.where_of("logpath") == f"{tmp_path}/jail.conf:5"
    assert sshd.where_of("maxretry") == sshd.where  # fail2ban's default: the jail
    assert web.where_of("filter") == f"{tmp_path}/jail.conf:8"
    write(tmp_path, "jail.local", "[web]\n\nfindtime = soon\n")
    with pytest.raises(ConfigError, match=r"jail\.local:3: time 'soon' is not a duration"):
        load_jails(tmp_path / "jail.conf")
