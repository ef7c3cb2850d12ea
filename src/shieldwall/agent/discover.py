"""What a server has to watch: its logs, its journal, its fail2ban jails, its addresses.

``shieldwall agent init`` proposes a configuration from what :func:`discover` finds.
Everything is looked for below ``root`` (``/`` on a live server; the mounted tree of an
image, or a test's directory, otherwise) and named as the server sees it:
``/var/log/auth.log``, never ``ROOT/var/log/auth.log``.

- **logs** the built-in scenarios read (``detection.md``): sshd (``auth.log`` or
  ``secure``), nginx and apache access logs, the mail log (postfix, dovecot) and
  dovecot's own log;
- **the journal** for sshd when the server has sshd and journald but no sshd log file;
- **fail2ban jails** that are enabled in ``/etc/fail2ban/jail.conf`` (with
  ``jail.local`` and ``jail.d``). A jail whose every log the built-in scenarios already
  read is left out, with the reason, so that no attempt is counted twice;
- **addresses**: the host's own global addresses (``ip -j addr``), proposed as the
  member's addresses, which no decision may block.

Nothing here writes anything.
"""

from __future__ import annotations

import glob
import ipaddress
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shieldwall.interop.fail2ban.config import ConfigError
from shieldwall.interop.fail2ban.filter import load_filter
from shieldwall.interop.fail2ban.jail import Jail, load_jails

# service -> globs below the root, in the order they are tried; every match is a source
LOGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sshd", ("var/log/auth.log", "var/log/secure")),
    ("nginx", ("var/log/nginx/access.log", "var/log/nginx/*access.log")),
    (
        "apache",
        (
            "var/log/apache2/access.log",
            "var/log/apache2/*access.log",
            "var/log/httpd/access_log",
            "var/log/httpd/*access_log",
        ),
    ),
    ("postfix, dovecot", ("var/log/mail.log", "var/log/maillog")),
    ("dovecot", ("var/log/dovecot.log",)),
)
SSHD = ("usr/sbin/sshd", "sbin/sshd")
JOURNALCTL = ("usr/bin/journalctl", "bin/journalctl")
# sshd's messages in the journal, whatever unit (ssh.service, sshd.service, ssh@.service)
# started it; sshd-session writes them from OpenSSH 9.8 on (matches on one field: OR)
SSHD_JOURNAL = ("SYSLOG_IDENTIFIER=sshd", "SYSLOG_IDENTIFIER=sshd-session")
JAIL_CONF = PurePosixPath("/etc/fail2ban/jail.conf")
_FILE_BACKENDS = {"auto", "polling", "pyinotify", "gamin"}


@dataclass(frozen=True, slots=True)
class FoundLog:
    """A log file the built-in scenarios read, as the server names it."""

    path: PurePosixPath
    service: str


@dataclass(frozen=True, slots=True)
class FoundJournal:
    service: str
    matches: tuple[str, ...]  # journalctl match arguments


@dataclass(frozen=True, slots=True)
class FoundJails:
    """The enabled fail2ban jails to run, and those left out with the reason."""

    jail_conf: PurePosixPath
    run: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]  # (jail, why)


@dataclass(frozen=True, slots=True)
class Discovery:
    logs: tuple[FoundLog, ...]
    journal: tuple[FoundJournal, ...]
    fail2ban: FoundJails | None
    notes: tuple[str, ...]  # what was found but cannot be used, and why

    @property
    def empty(self) -> bool:
        return not (self.logs or self.journal or (self.fail2ban and self.fail2ban.run))


def discover(root: Path) -> Discovery:
    """Logs, journal and jails of the server whose file system starts at ``root``."""
    notes: list[str] = []
    logs: list[FoundLog] = []
    seen: set[PurePosixPath] = set()
    for service, patterns in LOGS:
        for pattern in patterns:
            for match in sorted(glob.glob(pattern, root_dir=root)):
                path = PurePosixPath("/") / match
                if (root / match).is_file() and path not in seen:
                    seen.add(path)
                    logs.append(FoundLog(path, service))
    journal: list[FoundJournal] = []
    has_sshd_log = any(log.service == "sshd" for log in logs)
    if not has_sshd_log and _exists(root, SSHD) and _exists(root, JOURNALCTL):
        journal.append(FoundJournal("sshd", SSHD_JOURNAL))
    reads_sshd = has_sshd_log or bool(journal)
    jails = _jails(root, seen, reads_sshd, notes)
    return Discovery(tuple(logs), tuple(journal), jails, tuple(notes))


def _exists(root: Path, candidates: Sequence[str]) -> bool:
    return any((root / c).exists() for c in candidates)


def _jails(
    root: Path, logs: set[PurePosixPath], reads_sshd: bool, notes: list[str]
) -> FoundJails | None:
    conf = root / JAIL_CONF.relative_to("/")
    if not conf.is_file():
        return None
    try:
        jails = [j for j in load_jails(conf) if j.enabled]
    except ConfigError as exc:
        notes.append(f"fail2ban: {exc}: no jail is run until it is fixed")
        return None
    run: list[str] = []
    skipped: list[tuple[str, str]] = []
    for jail in jails:
        why = _skip_reason(root, jail, logs, reads_sshd, conf.parent / "filter.d")
        if why is None:
            run.append(jail.name)
        else:
            skipped.append((jail.name, why))
    return FoundJails(JAIL_CONF, tuple(run), tuple(skipped))


def _skip_reason(
    root: Path, jail: Jail, logs: set[PurePosixPath], reads_sshd: bool, filters: Path
) -> str | None:
    backend = jail.backend.lower()
    if backend.startswith("systemd") and jail.filter == "sshd" and reads_sshd:
        return "the built-in scenarios already read sshd's messages"
    try:
        load_filter(filters / f"{jail.filter}.conf", jail.filter_args)
    except ConfigError as exc:
        return f"its filter cannot run here: {exc}"
    if backend.startswith("systemd"):
        return None
    if backend not in _FILE_BACKENDS:
        return f"its backend {jail.backend!r} is not supported: use systemd or auto"
    paths: list[PurePosixPath] = []
    for entry in jail.logpath:
        words = entry.split()
        if len(words) > 1 and words[-1] in ("head", "tail"):
            words.pop()
        pattern = " ".join(words)
        if not glob.has_magic(pattern):
            paths.append(PurePosixPath(pattern))
            continue
        found = sorted(glob.glob(pattern.lstrip("/"), root_dir=root))
        if not found:
            return f"its logpath {pattern!r} matches no file"
        paths.extend(PurePosixPath("/") / p for p in found)
    if not paths:
        return "it has no logpath"
    if all(p in logs for p in paths):
        return f"the built-in scenarios already read {', '.join(map(str, paths))}"
    return None


def parse_ip_addr_json(text: str) -> list[str]:
    """The global unicast addresses in ``ip -j addr`` output, sorted, as text."""
    try:
        links = json.loads(text)
    except ValueError:
        return []
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for link in links if isinstance(links, list) else []:
        infos = link.get("addr_info", []) if isinstance(link, dict) else []
        for info in infos if isinstance(infos, list) else []:
            local = info.get("local") if isinstance(info, dict) else None
            try:
                address = ipaddress.ip_address(str(local))
            except ValueError:
                continue
            if _usable(address):
                found.add(address)
    return [str(a) for a in sorted(found, key=lambda a: (a.version, a))]


def _usable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
    )


def host_addresses(run: Callable[[list[str]], str] | None = None) -> list[str]:
    """This host's own addresses: from ``ip -j addr``, else what its name resolves to."""
    ip = shutil.which("ip")
    if run is None:
        run = _run
    if ip is not None:
        found = parse_ip_addr_json(run([ip, "-j", "addr", "show"]))
        if found:
            return found
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return []
    out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        except ValueError:
            continue
        if _usable(address):
            out.add(address)
    return [str(a) for a in sorted(out, key=lambda a: (a.version, a))]


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
