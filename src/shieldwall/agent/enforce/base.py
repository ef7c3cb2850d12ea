"""What every enforcer shares: the entry it enforces, the protocol, the command runner.

An enforcer turns accepted decisions into firewall state. It is synchronous and meant
to be driven from one worker thread of the agent, in batches:

* ``sync(entries)`` at start (and after any doubt): make the firewall hold exactly these;
* ``apply(add, remove)`` for each batch from the decision stream, as one transaction;
* ``expire()`` now and then, for backends without native timeouts (file, memory);
* ``close()`` on shutdown. It leaves the firewall state in place: the kernel's element
  timeouts keep expiring bans even when the agent is gone.

Several decisions may target the same address; the :class:`Ledger` keeps one line per
target whose expiry is the latest of the decisions still standing on it.
"""

from __future__ import annotations

import heapq
import math
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shieldwall.core.addresses import normalise, parse_network
from shieldwall.core.model import Decision, Scope

Clock = Callable[[], float]

#: Kernel timeouts longer than this are clamped (about ten years).
MAX_TIMEOUT = 3650 * 86400.0


class EnforcerError(RuntimeError):
    """The firewall refused a change or a command failed; the message says which."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One decision as an enforcer sees it.

    ``target`` is normalised (``"203.0.113.9"``, ``"2001:db8::/64"``); ``expires_at`` is
    Unix seconds (``math.inf`` for no end); ``decision_id`` identifies it for removal.
    """

    target: str
    scope: Scope
    expires_at: float
    decision_id: int

    @classmethod
    def from_decision(cls, decision: Decision, expires_at: float | None = None) -> Entry:
        target, scope = normalise(parse_network(decision.target))
        end = decision.expires_at if expires_at is None else expires_at
        return cls(target, scope, float(end), decision.id)

    @property
    def version(self) -> int:
        return 6 if ":" in self.target else 4


def entries_from_decisions(decisions: Iterable[Decision]) -> list[Entry]:
    """Entries for decisions, without any local policy (see ``agent.policy`` for that)."""
    return [Entry.from_decision(d) for d in decisions]


class Enforcer(Protocol):
    """The contract between the agent and a firewall backend."""

    name: str

    def sync(self, entries: Sequence[Entry]) -> None:
        """Make the backend hold exactly ``entries`` (atomically where it can)."""

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        """Add and remove entries in one batch (removal matches on decision id)."""

    def expire(self) -> int:
        """Drop entries whose time has passed; how many went. Native timeouts: 0."""

    def close(self) -> None:
        """Release resources; enforced state stays (it expires by itself)."""


def remaining(expires_at: float, now: float) -> float | None:
    """Seconds left to enforce, clamped to :data:`MAX_TIMEOUT`; None once expired."""
    left = expires_at - now
    if left <= 0 or math.isnan(left):
        return None
    return min(left, MAX_TIMEOUT)


@dataclass(slots=True)
class Change:
    """How one target's effective expiry moved in a batch (None: not held)."""

    target: str
    scope: Scope
    before: float | None
    after: float | None


@dataclass(slots=True)
class Ledger:
    """Decisions held per target; the latest expiry of the standing ones wins.

    Pure bookkeeping shared by the backends: it computes which targets changed, the
    backends translate that into commands.
    """

    targets: dict[str, dict[int, float]] = field(default_factory=dict)
    scopes: dict[str, Scope] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    _heap: list[tuple[float, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def expiry(self, target: str) -> float | None:
        held = self.targets.get(target)
        return max(held.values()) if held else None

    def effective(self) -> dict[str, float]:
        return {t: max(held.values()) for t, held in self.targets.items()}

    def batch(self, add: Sequence[Entry], remove: Sequence[Entry], now: float) -> list[Change]:
        """Record a batch; the targets whose effective expiry changed, in input order."""
        before: dict[str, float | None] = {}

        def touch(target: str) -> None:
            if target not in before:
                before[target] = self.expiry(target)

        for entry in remove:
            target = self.by_id.pop(entry.decision_id, None)
            if target is None:
                continue
            touch(target)
            held = self.targets[target]
            held.pop(entry.decision_id, None)
            if not held:
                del self.targets[target]
        for entry in add:
            if entry.expires_at <= now:
                continue
            old = self.by_id.get(entry.decision_id)
            if old is not None and old != entry.target:
                touch(old)
                self._drop(old, entry.decision_id)
            touch(entry.target)
            self.targets.setdefault(entry.target, {})[entry.decision_id] = entry.expires_at
            self.scopes[entry.target] = entry.scope
            self.by_id[entry.decision_id] = entry.target
            heapq.heappush(self._heap, (entry.expires_at, entry.decision_id))
        changes = []
        for target, was in before.items():
            now_expiry = self.expiry(target)
            if now_expiry != was:
                scope = self.scopes[target]
                if now_expiry is None:
                    self.scopes.pop(target, None)
                changes.append(Change(target, scope, was, now_expiry))
        return changes

    def expire(self, now: float) -> list[Change]:
        """Forget decisions that ended; the targets no longer (or differently) held."""
        ended: list[Entry] = []
        while self._heap and self._heap[0][0] <= now:
            at, decision_id = heapq.heappop(self._heap)
            target = self.by_id.get(decision_id)
            if target is not None and self.targets[target].get(decision_id) == at:
                ended.append(Entry(target, self.scopes[target], at, decision_id))
        return self.batch((), ended, now) if ended else []

    def reset(self, entries: Sequence[Entry], now: float) -> None:
        """Hold exactly ``entries`` (those not yet expired); a bulk load for sync."""
        targets: dict[str, dict[int, float]] = {}
        scopes: dict[str, Scope] = {}
        by_id: dict[int, str] = {}
        heap: list[tuple[float, int]] = []
        for entry in entries:
            if not entry.expires_at > now:
                continue
            old = by_id.get(entry.decision_id)
            if old is not None and old != entry.target:
                del targets[old][entry.decision_id]
                if not targets[old]:
                    del targets[old], scopes[old]
            held = targets.get(entry.target)
            if held is None:
                targets[entry.target] = held = {}
            held[entry.decision_id] = entry.expires_at
            scopes[entry.target] = entry.scope
            by_id[entry.decision_id] = entry.target
            heap.append((entry.expires_at, entry.decision_id))
        heapq.heapify(heap)
        self.targets, self.scopes, self.by_id, self._heap = targets, scopes, by_id, heap

    def _drop(self, target: str, decision_id: int) -> None:
        held = self.targets.get(target, {})
        held.pop(decision_id, None)
        if not held:
            self.targets.pop(target, None)


@dataclass(frozen=True, slots=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Runs one command with optional standard input; never raises for an exit code."""

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult: ...


@dataclass(frozen=True, slots=True)
class CommandRunner:
    """Runs commands for real; ``prefix`` such as ``("ip", "netns", "exec", "ns1")``."""

    prefix: tuple[str, ...] = ()
    timeout: float = 60.0

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        command = [*self.prefix, *argv]
        try:
            done = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise EnforcerError(
                f"command {command[0]!r} not found: install it or fix the enforcer's command"
            ) from None
        except subprocess.TimeoutExpired:
            raise EnforcerError(
                f"command {' '.join(command[:4])!r} did not finish within {self.timeout:g} s"
            ) from None
        return CommandResult(done.returncode, done.stdout, done.stderr)


@dataclass
class RecordingRunner:
    """A fake runner for tests: records every call and answers from ``results``."""

    calls: list[tuple[tuple[str, ...], str | None]] = field(default_factory=list)
    results: list[CommandResult] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], stdin: str | None = None) -> CommandResult:
        self.calls.append((tuple(argv), stdin))
        if self.results:
            return self.results.pop(0)
        return CommandResult(0, "", "")

    @property
    def scripts(self) -> list[str]:
        return [stdin for _, stdin in self.calls if stdin is not None]


def run_checked(runner: Runner, argv: Sequence[str], stdin: str | None = None) -> str:
    """Run and return stdout; a non-zero exit becomes :class:`EnforcerError`."""
    result = runner(argv, stdin)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        first = detail[0] if detail else "no output"
        raise EnforcerError(
            f"{' '.join(argv[:3])} failed with exit code {result.returncode}: {first[:300]}"
        )
    return result.stdout
