"""Our fail2ban engine against the real ``fail2ban-regex`` on the same log and filter."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import time
from pathlib import Path

import pytest

from shieldwall.interop.fail2ban.engine import FilterEngine
from shieldwall.interop.fail2ban.filter import load_filter
from tests.conftest import require_tool

LOG = Path(__file__).parents[1] / "agent" / "data" / "auth.log"
SSHD = Path("/etc/fail2ban/filter.d/sshd.conf")


def _norm(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def _fail2ban(tool: str, *options: str) -> tuple[list[str], list[str]]:
    """(matched line texts, host per failure) as fail2ban-regex prints them."""
    report = subprocess.run(
        [tool, "--print-all-matched", *options, str(LOG), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    section = report.split("Matched line(s):", 1)[1].split("`-", 1)[0]
    matched = [m.group(1) for m in re.finditer(r"^\|  (.*)$", section, re.M)]
    hosts = subprocess.run(
        [tool, "-o", "ip", *options, str(LOG), str(SSHD)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    return matched, [_norm(h) for h in hosts]


@pytest.mark.parametrize(
    ("check_all", "options"),
    [
        pytest.param(True, (), id="fail2ban-regex-default"),
        pytest.param(False, ("--no-check-all",), id="daemon-first-match"),
    ],
)
def test_sshd_filter_agrees_with_fail2ban_regex(check_all: bool, options: tuple[str, ...]) -> None:
    tool = require_tool("fail2ban-regex")
    if not SSHD.is_file():
        pytest.fail(f"{SSHD} missing although fail2ban-regex is installed")
    expected_lines, expected_hosts = _fail2ban(tool, *options)
    lines = LOG.read_text().splitlines()
    engine = FilterEngine(load_filter(SSHD), check_all=check_all)
    results = [r for r in engine.feed(LOG.read_bytes(), time.time()) if r.matched]
    assert [lines[r.line - 1] for r in results] == expected_lines
    # fail2ban-regex -o always runs first-match (it turns check-all off): so do we here
    first_match = FilterEngine(load_filter(SSHD)).feed(LOG.read_bytes(), time.time())
    ours = [_norm(r.host) for r in first_match if r.matched and r.host]
    assert ours == expected_hosts
    assert len(expected_lines) >= 25  # the sample exercises most of the filter


def test_prefilter_skips_lines_without_literals() -> None:
    definition = load_filter(SSHD) if SSHD.is_file() else None
    if definition is None:
        require_tool("fail2ban-regex")
        pytest.fail(f"{SSHD} missing")
    engine = FilterEngine(definition)
    noise = b"Mar  3 06:25:01 web1 CRON[1]: pam_unix(cron:session): session opened\n" * 1000
    attack = (
        b"Mar  3 06:31:14 web1 sshd[9]: Failed password for root from 203.0.113.5 port 1 ssh2\n"
    )
    results = engine.feed(noise + attack, time.time())
    assert [(r.line, r.host) for r in results] == [(1001, "203.0.113.5")]
    assert engine.candidates == 1


# Small logs of the kinds these filters read: lines fail2ban matches, lines it ignores
# and lines it misses, IPv4 and IPv6, dates in front, in brackets and in the middle.
SSHD_LOG = """\
Mar  3 06:31:12 web1 sshd[100]: Failed password for root from 203.0.113.50 port 4242 ssh2
Mar  3 06:31:13 web1 sshd[101]: Invalid user admin from 203.0.113.51 port 4243
Mar  3 06:31:14 web1 sshd[102]: Accepted publickey for deploy from 192.0.2.10 port 50000 ssh2: ED25519 SHA256:x
Mar  3 06:31:15 web1 sshd[103]: Connection closed by authenticating user root 203.0.113.52 port 4244 [preauth]
Mar  3 06:31:16 web1 sshd[104]: Disconnecting: Too many authentication failures for root from 203.0.113.53 port 4245 ssh2 [preauth]
Mar  3 06:31:17 web1 sshd[105]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.54  user=root
Mar  3 06:31:18 web1 sshd[105]: Failed password for root from 203.0.113.54 port 4246 ssh2
Mar  3 06:31:19 web1 sshd[106]: User bob from 203.0.113.55 not allowed because not listed in AllowUsers
Mar  3 06:31:20 web1 sshd[107]: error: maximum authentication attempts exceeded for root from 2001:db8::56 port 4247 ssh2 [preauth]
Mar  3 06:31:21 web1 CRON[1]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
"""

NGINX_BOTSEARCH_LOG = """\
2024/03/03 06:31:12 [error] 1234#0: *1 open() "/usr/share/nginx/html/phpmyadmin/index.php" failed (2: No such file or directory), client: 203.0.113.7, server: example.org, request: "GET /phpmyadmin/index.php HTTP/1.1", host: "example.org"
2024/03/03 06:31:13 [error] 1234#0: *2 "/var/www/wp-login.php/index.html" is not found (2: No such file or directory), client: 203.0.113.8, server: _, request: "GET /wp-login.php/ HTTP/1.1", host: "example.org"
203.0.113.9 - - [03/Mar/2024:06:31:14 +0000] "GET /admin/config.php HTTP/1.1" 404 153 "-" "curl/8.5.0"
203.0.113.10 - - [03/Mar/2024:06:31:15 +0000] "GET /index.html HTTP/1.1" 200 153 "-" "curl/8.5.0"
2024/03/03 06:31:16 [error] 1234#0: *3 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 198.51.100.2, server: example.org, request: "GET /favicon.ico HTTP/1.1", host: "example.org"
2001:db8::44 - - [03/Mar/2024:06:31:17 +0000] "POST /xmlrpc.php HTTP/1.1" 404 10 "-" "x"
2024/03/03 06:31:18 [error] 1234#0: *4 open() "/usr/share/nginx/html/.env" failed (2: No such file or directory), client: 203.0.113.11, server: example.org, request: "GET /.env HTTP/1.1", host: "example.org"
203.0.113.12 - - [03/Mar/2024:06:31:19 +0000] "GET /mysql/admin/index.php HTTP/1.1" 404 153 "-" "curl/8.5.0"
"""

POSTFIX_LOG = """\
Mar  3 06:31:12 mx1 postfix/smtpd[1234]: NOQUEUE: reject: RCPT from unknown[203.0.113.20]: 554 5.7.1 <spam@example.org>: Relay access denied; from=<a@b.example> to=<spam@example.org> proto=ESMTP helo=<x>
Mar  3 06:31:13 mx1 postfix/smtpd[1234]: NOQUEUE: reject: RCPT from unknown[203.0.113.21]: 450 4.7.1 Client host rejected: cannot find your hostname, [203.0.113.21]; from=<a@b.example> to=<u@example.org> proto=ESMTP helo=<x>
Mar  3 06:31:14 mx1 postfix/smtpd[1234]: warning: unknown[203.0.113.22]: SASL LOGIN authentication failed: UGFzc3dvcmQ6
Mar  3 06:31:15 mx1 postfix/smtpd[1234]: connect from mail.example.org[192.0.2.25]
Mar  3 06:31:16 mx1 postfix/smtpd[1234]: improper command pipelining after CONNECT from unknown[203.0.113.23]: \\r\\n
Mar  3 06:31:17 mx1 postfix/smtpd[1234]: NOQUEUE: reject: RCPT from unknown[203.0.113.24]: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table; from=<x@y.example> to=<nobody@example.org> proto=ESMTP helo=<z>
Mar  3 06:31:18 mx1 postfix/smtpd[1234]: lost connection after AUTH from unknown[203.0.113.25]
Mar  3 06:31:19 mx1 postfix/smtpd[1234]: NOQUEUE: reject: EHLO from unknown[203.0.113.26]: 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<localhost>
Mar  3 06:31:20 mx1 postfix/smtpd[1234]: disconnect from mail.example.org[192.0.2.25] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
"""

DOVECOT_LOG = """\
Mar  3 06:31:12 mx1 dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<info>, method=PLAIN, rip=203.0.113.30, lip=192.0.2.1, TLS, session=<abc>
Mar  3 06:31:13 mx1 dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 3 secs): user=<bob>, method=PLAIN, rip=203.0.113.31, lip=192.0.2.1, session=<x>
Mar  3 06:31:14 mx1 dovecot: auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=carol rhost=203.0.113.32  user=carol
Mar  3 06:31:15 mx1 dovecot: imap-login: Login: user=<ok>, method=PLAIN, rip=192.0.2.50, lip=192.0.2.1, mpid=1, TLS
Mar  3 06:31:16 mx1 dovecot: auth-worker(1234): pam(dave,203.0.113.33,<sess>): pam_authenticate() failed: Authentication failure (password mismatch?)
Mar  3 06:31:17 mx1 dovecot: auth: passwd-file(eve,2001:db8::35): unknown user
Mar  3 06:31:18 mx1 dovecot: imap-login: Disconnected (no auth attempts in 10 secs): user=<>, rip=203.0.113.36, lip=192.0.2.1, TLS handshaking
"""

APACHE_AUTH_LOG = """\
[Sun Mar 03 06:31:12.123456 2024] [auth_basic:error] [pid 1234] [client 203.0.113.40:52412] AH01618: user alice not found: /secret
[Sun Mar 03 06:31:13.123456 2024] [auth_basic:error] [pid 1234] [client 203.0.113.41:52413] AH01617: user bob: authentication failure for "/secret": Password Mismatch
[Sun Mar 03 06:31:14.123456 2024] [core:error] [pid 1234] [client 203.0.113.42:52414] AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1
[Sun Mar 03 06:31:15.123456 2024] [authz_core:error] [pid 1234] [client 203.0.113.43:52415] AH01630: client denied by server configuration: /var/www/private
[Sun Mar 03 06:31:16.123456 2024] [ssl:info] [pid 1234] [client 198.51.100.9:1] AH01964: Connection to child 1 established
[Sun Mar 03 06:31:17 2024] [error] [client 203.0.113.44] user carol: authentication failure for "/secret": Password Mismatch
[Sun Mar 03 06:31:18.1 2024] [auth_digest:error] [pid 1] [client 2001:db8::45:1] AH01790: user dave: password mismatch: /secret
"""

MONGODB_AUTH_LOG = """\
2024-03-03T06:31:12.000+0100 [initandlisten] connection accepted from 203.0.113.60:51234 #7 (1 connection now open)
2024-03-03T06:31:12.100+0100 [initandlisten] connection accepted from 198.51.100.1:1111 #8 (2 connections now open)
2024-03-03T06:31:12.200+0100 [conn7]  authenticate db: admin { authenticate: 1, nonce: "x", user: "root", key: "y" }
2024-03-03T06:31:12.300+0100 [conn7] Failed to authenticate root@admin with mechanism MONGODB-CR: AuthenticationFailed UserNotFound Could not find user root@admin
2024-03-03T06:31:12.400+0100 [conn8] end connection 198.51.100.1:1111 (1 connection now open)
2024-03-03T06:31:12.500+0100 [conn7] end connection 203.0.113.60:51234 (0 connections now open)
2024-03-03T06:31:13.300+0100 [conn9] Failed to authenticate admin@admin with mechanism MONGODB-CR: AuthenticationFailed key mismatch
2024-03-03T06:31:13.400+0100 [conn9] end connection 203.0.113.61:4242 (0 connections now open)
"""

REPRESENTATIVE = {
    "sshd": SSHD_LOG,
    "nginx-botsearch": NGINX_BOTSEARCH_LOG,
    "postfix": POSTFIX_LOG,
    "dovecot": DOVECOT_LOG,
    "apache-auth": APACHE_AUTH_LOG,
    "mongodb-auth": MONGODB_AUTH_LOG,  # multi-line: maxlines = 10 and <SKIPLINES>
}


def _regex_report(tool: str, log: Path, conf: Path) -> tuple[list[str], list[str]]:
    report = subprocess.run(
        [tool, "--print-all-matched", str(log), str(conf)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    matched: list[str] = []
    if "Matched line(s):" in report:
        section = report.split("Matched line(s):", 1)[1].split("|-", 1)[0].split("`-", 1)[0]
        matched = [m.group(1) for m in re.finditer(r"^\|  (.*)$", section, re.M)]
    hosts = subprocess.run(
        [tool, "-o", "ip", str(log), str(conf)],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    return matched, [_norm(h) for h in hosts]


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_stock_filter_agrees_with_fail2ban_regex(name: str, tmp_path: Path) -> None:
    tool = require_tool("fail2ban-regex")
    conf = Path("/etc/fail2ban/filter.d") / f"{name}.conf"
    log = tmp_path / f"{name}.log"
    log.write_text(REPRESENTATIVE[name])
    expected_lines, expected_hosts = _regex_report(tool, log, conf)
    lines = log.read_text().splitlines()
    definition = load_filter(conf)
    now = time.time()
    every = [r for r in FilterEngine(definition, check_all=True).feed(log.read_bytes(), now)]
    ours = [lines[r.line - 1] for r in every if r.matched]
    if definition.maxlines == 1:
        assert ours == expected_lines
    else:  # fail2ban-regex lists every line of a match; we report the line completing it
        assert ours and set(ours) <= set(expected_lines)
    first = FilterEngine(definition).feed(log.read_bytes(), now)
    assert [_norm(r.host) for r in first if r.matched and r.host] == expected_hosts
    assert len(expected_hosts) >= 2  # the log exercises the filter
