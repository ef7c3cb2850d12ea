"""Built-in scenarios: what an attack looks like in sshd, nginx/apache, postfix, dovecot logs.

Each scenario has a ``finder``, a bytes regex that starts with literal text (so the
regex engine scans for it at C speed over a whole chunk), and an ``extract`` step
run only on hit lines, which checks the hit is in the right field and returns the
source address. Names are stable: they travel in signals and treaty clauses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shieldwall.agent.detect.finders import Finder, TailFinder

_IP = rb"\[?(?P<ip>[0-9A-Fa-f:.]*[0-9A-Fa-f])\]?"
# nginx/apache "combined": ip - user [time] "METHOD path proto" status size "ref" "ua"
ACCESS = re.compile(
    rb'(?P<ip>[0-9A-Fa-f:.]+) \S+ \S+ \[(?P<ts>[^\]]{1,40})\] "(?P<method>[A-Z]{1,16}) '
    rb'(?P<path>[^ "]{0,8192})[^"]{0,64}" (?P<status>\d{3}) \S+'
    rb'(?: "(?:[^"\\]|\\.){0,8192}" "(?P<ua>(?:[^"\\]|\\.){0,8192})")?'
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A leaky bucket: it overflows when an event lifts its level above ``capacity``.

    IPv6 sources are counted per ``/prefix_v6`` as well as per address, IPv4 sources
    per ``/prefix_v4`` (32: per address only): see :mod:`shieldwall.agent.detect.prefixes`.
    """

    capacity: float
    leak_rate: float  # events per second drained from the bucket
    enabled: bool = True
    prefix_v6: int = 64
    prefix_v4: int = 32

    @classmethod
    def window(cls, count: int, seconds: float, enabled: bool = True) -> Threshold:
        """About ``count`` events within ``seconds``: the ``count``-th quick event overflows a
        bucket of ``count - 1`` that drains ``count / seconds`` per second."""
        return cls(float(count - 1), count / seconds, enabled)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    # literal strings (found with bytes.find), one regex led by literal text, or a
    # TailFinder: see shieldwall.agent.detect.finders
    finder: Finder
    extract: SyslogExtract | AccessExtract  # run on hit lines only
    default: Threshold
    kind: str  # "syslog" or "access": which timestamp to read


class SyslogExtract:
    """Source address of a syslog line: the first non-empty group of ``pattern.search``.

    ``scan``: the pattern finds its own lines in a whole chunk (see
    :mod:`shieldwall.agent.detect.scan`). Set it only when no match of the pattern can
    hold a line break or look past its line (no ``\\s``, ``[^...]`` without ``\\n``,
    ``^``, ``$``, ``\\b``, lookbehind at its edges) and every match holds the text the
    scenario's finder looks for: then the lines a scan of the pattern finds are exactly
    the finder's hit lines the pattern matches. ``tests/agent/test_detect_scan.py``
    checks both on every scenario that sets it.
    """

    __slots__ = ("pattern", "scan")

    def __init__(self, pattern: bytes, scan: bool = False) -> None:
        self.pattern = re.compile(pattern)
        self.scan = scan

    def __call__(self, line: bytes) -> bytes | None:
        m = self.pattern.search(line)
        if m is None:
            return None
        return next((g for g in m.groups() if g), None)


class AccessExtract:
    """Source address of an access-log line whose :data:`ACCESS` match passes ``check``."""

    __slots__ = ("check",)

    def __init__(self, check: Callable[[re.Match[bytes]], bool]) -> None:
        self.check = check

    def __call__(self, line: bytes) -> bytes | None:
        m = ACCESS.match(line)
        if m is None or not self.check(m):
            return None
        return m.group("ip")


def _syslog(pattern: bytes, scan: bool = False) -> SyslogExtract:
    return SyslogExtract(pattern, scan)


def _access(check: Callable[[re.Match[bytes]], bool]) -> AccessExtract:
    return AccessExtract(check)


SENSITIVE_PATHS = (
    rb"/.env",
    rb"/wp-login.php",
    rb"/xmlrpc.php",
    rb"/.git/",
    rb"/.git/config",
    rb"/.svn/",
    rb"/phpmyadmin",
    rb"/phpMyAdmin",
    rb"/pma/",
    rb"/.aws/",
    rb"/.ssh/",
    rb"/.htpasswd",
    rb"/server-status",
    rb"/vendor/phpunit",
    rb"/cgi-bin/",
    rb"/boaform",
    rb"/HNAP1",
    rb"/actuator/",
    rb"/.DS_Store",
    rb"/wp-config.php",
    rb"/config.json",
    rb"/etc/passwd",
    rb"/shell.php",
    rb"/owa/auth",
    rb"/solr/admin",
    rb"/manager/html",
    rb"/console/",
)
BAD_AGENTS = (
    rb"sqlmap",
    rb"Nikto",
    rb"nikto",
    rb"masscan",
    rb"zgrab",
    rb"Nmap",
    rb"nmap",
    rb"dirbuster",
    rb"DirBuster",
    rb"gobuster",
    rb"WPScan",
    rb"wpscan",
    rb"Nuclei",
    rb"nuclei",
    rb"Acunetix",
    rb"Hydra",
    rb"ffuf",
    rb"feroxbuster",
    rb"ZmEu",
    rb"Morfeus",
    rb"fimap",
    rb"w3af",
    rb"Jorgee",
)
# "/.env" and "/.env.bak" but not "/docs/.envelope"
_PATH_RE = re.compile(
    rb"|".join(
        re.escape(p) + (b"" if p.endswith(b"/") else rb"(?![A-Za-z0-9_-])") for p in SENSITIVE_PATHS
    )
)
_AGENT_RE = re.compile(rb"|".join(re.escape(a) for a in BAD_AGENTS))


def _sensitive(m: re.Match[bytes]) -> bool:
    return _PATH_RE.search(m.group("path")) is not None


def _bad_agent(m: re.Match[bytes]) -> bool:
    ua = m.group("ua")
    return ua is not None and _AGENT_RE.search(ua) is not None


def _status(*codes: bytes) -> Callable[[re.Match[bytes]], bool]:
    return lambda m: m.group("status") in codes


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "ssh-bruteforce",
            "sshd: failed passwords and invalid users",
            re.compile(rb": (?:Failed |Invalid user )"),
            _syslog(
                rb"sshd(?:-session)?\[\d+\]: (?:error: )?(?:Failed (?!publickey )\S+ for (?:invalid user )?"
                rb"(?:.*?) from|Invalid user (?:.*?) from) " + _IP + rb" port \d+",
                scan=True,
            ),
            Threshold.window(5, 600),
            "syslog",
        ),
        Scenario(
            "ssh-preauth",
            "sshd: pre-auth disconnects, too many authentication failures",
            (b" [preauth]", b"Did not receive identification", b"banner exchange: "),
            _syslog(
                rb"sshd(?:-session)?\[\d+\]: (?:error: )?(?:"
                rb"(?:Connection closed by|Disconnected from) (?:(?:authenticating|invalid) user"
                rb" \S* )?" + _IP + rb" port \d+ \[preauth\]"
                rb"|maximum authentication attempts exceeded for .*? from (?P<ip2>[0-9A-Fa-f:.]+)"
                rb"|Disconnecting (?:authenticating|invalid) user \S+ (?P<ip3>[0-9A-Fa-f:.]+) port"
                rb" \d+: Too many authentication failures"
                rb"|Did not receive identification string from (?P<ip4>[0-9A-Fa-f:.]+)"
                rb"|Unable to negotiate with (?P<ip5>[0-9A-Fa-f:.]+) port"
                rb"|banner exchange: Connection from (?P<ip6>[0-9A-Fa-f:.]+) port)"
            ),
            Threshold.window(10, 600),
            "syslog",
        ),
        Scenario(
            "http-scan",
            "web: bursts of 404 Not Found (path scanning)",
            (b'" 404 ',),
            _access(_status(b"404")),
            Threshold.window(20, 60),
            "access",
        ),
        Scenario(
            "http-sensitive-path",
            "web: requests for secrets and admin paths (/.env, /.git/, /wp-login.php, ...)",
            _PATH_RE,
            _access(_sensitive),
            Threshold.window(3, 300),
            "access",
        ),
        Scenario(
            "http-bad-user-agent",
            "web: known attack tools in the User-Agent (sqlmap, nikto, masscan, zgrab, nmap, ...)",
            # the agent follows the referer's closing quote: '"-" "sqlmap/1.7"'
            TailFinder(b'" "', _AGENT_RE),
            _access(_bad_agent),
            Threshold.window(1, 60),
            "access",
        ),
        Scenario(
            "http-auth-bruteforce",
            "web: bursts of 401/403 (password guessing)",
            re.compile(rb'" 40[13] '),
            _access(_status(b"401", b"403")),
            Threshold.window(10, 60),
            "access",
        ),
        Scenario(
            "postfix-auth",
            "postfix: SASL authentication failed",
            (b" authentication failed",),
            _syslog(
                rb"postfix/(?:\w+/)?smtpd\[\d+\]: warning: [\w.\-]+\[(?P<ip>[0-9A-Fa-f:.]+)\]: SASL"
                rb" [\w-]+ authentication failed",
                scan=True,
            ),
            Threshold.window(5, 600),
            "syslog",
        ),
        Scenario(
            "dovecot-auth",
            "dovecot: authentication failures (auth failed, rip=)",
            (b"auth failed", b"password mismatch", b"unknown user"),
            _syslog(rb"dovecot(?:\[\d+\])?: [^\n]*?rip=(?P<ip>[0-9A-Fa-f:.]+)"),
            Threshold.window(5, 600),
            "syslog",
        ),
    )
}
