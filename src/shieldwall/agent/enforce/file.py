"""File enforcer: one address or range a line, for nginx, haproxy and other tools.

The file is rewritten whole on every change: written to a temporary file in the same
directory, flushed to disk, then renamed over the old one, so a reader sees either the
old list or the new one, never half of each. Lines are sorted (IPv4 before IPv6) and
the file holds only entries still in force; ``expire()`` rewrites it when some ended.

``line_format`` shapes each line (``"{target}"`` by default; ``"deny {target};"`` makes
an nginx include). ``reload`` is a command run after each rewrite, such as
``["nginx", "-s", "reload"]``.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from shieldwall.agent.enforce.base import (
    Clock,
    CommandRunner,
    Entry,
    Ledger,
    Runner,
    run_checked,
)
from shieldwall.core.addresses import parse_network


def _sort_key(target: str) -> tuple[int, int, int]:
    net = ipaddress.ip_network(target)
    return net.version, int(net.network_address), net.prefixlen


class FileEnforcer:
    name = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        line_format: str = "{target}",
        reload: Sequence[str] = (),
        runner: Runner | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.path = Path(path)
        if "{target}" not in line_format or "\n" in line_format:
            raise ValueError(
                f"file enforcer line_format {line_format!r} is invalid: "
                "give one line containing {target}, e.g. 'deny {target};'"
            )
        try:
            line_format.format(target="192.0.2.1")
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                f"file enforcer line_format {line_format!r} has fields other than "
                "{target}: double any other braces ({{ }})"
            ) from None
        if not self.path.parent.is_dir():
            raise ValueError(
                f"file enforcer path {str(self.path)!r}: directory {str(self.path.parent)!r} "
                "does not exist; create it or choose another path"
            )
        self.line_format = line_format
        self.reload = tuple(reload)
        self._runner: Runner = runner or CommandRunner()
        self._clock = clock
        self._ledger = Ledger()
        self.writes = 0

    def sync(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            parse_network(entry.target)
        self._ledger.reset(entries, self._clock())
        self._write()

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        for entry in add:
            parse_network(entry.target)
        now = self._clock()
        changes = self._ledger.batch(add, remove, now) + self._ledger.expire(now)
        if any((c.before is None) != (c.after is None) for c in changes):
            self._write()

    def expire(self) -> int:
        gone = [c for c in self._ledger.expire(self._clock()) if c.after is None]
        if gone:
            self._write()
        return len(gone)

    def close(self) -> None:
        """Nothing to release; the file stays as last written."""

    def render(self) -> str:
        targets = sorted(self._ledger.targets, key=_sort_key)
        return "".join(self.line_format.format(target=t) + "\n" for t in targets)

    def _write(self) -> None:
        text = self.render()
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.writes += 1
        if self.reload:
            run_checked(self._runner, self.reload)
