"""nftables enforcer: a table of our own, sets with kernel timeouts, one transaction a batch.

Layout of ``table inet shieldwall`` (name configurable)::

    set allow4/allow6    flags interval          the member's own addresses, allowlist, hub
    set hosts4/hosts6    flags timeout           banned single addresses
    set ranges4/ranges6  flags interval,timeout  banned CIDR ranges, as disjoint segments
    chain input (and forward): hook priority -10, policy accept
        iif lo accept; saddr @allow accept; saddr @hosts drop; saddr @ranges drop

Single addresses live in hash sets because adding to an interval set makes ``nft`` read
the whole set first (about half a second at 100,000 elements), while a hash-set insert
costs a few milliseconds at any size. Ranges overlap, which interval sets refuse, so
they are cut into disjoint segments (:mod:`.segments`). Every element carries a timeout:
a ban ends in the kernel at its expiry even if the agent is dead.

Every batch is one ``nft -f -`` script, hence one atomic transaction. If the kernel
refuses a batch (an element expired under our feet, the table was deleted by hand),
the enforcer reloads the whole table from its ledger in one transaction.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shieldwall.agent.enforce.base import (
    MAX_TIMEOUT,
    Change,
    Clock,
    CommandRunner,
    EnforcerError,
    Entry,
    Ledger,
    Runner,
    run_checked,
)
from shieldwall.agent.enforce.segments import Segment, Segments
from shieldwall.core.addresses import bounds, parse_network

log = logging.getLogger("shieldwall.enforce.nftables")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
_HOST = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")
HOOKS = ("input", "forward")
VERDICTS = ("drop", "reject")


@dataclass(frozen=True, slots=True)
class NftConfig:
    """What the table looks like; validated on construction."""

    table: str = "shieldwall"
    hooks: tuple[str, ...] = ("input",)
    verdict: str = "drop"
    priority: int = -10
    allow: tuple[str, ...] = ()
    counters: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.table):
            raise ValueError(
                f"nftables table name {self.table!r} is invalid: use letters, digits and _ "
                "(at most 31 characters), e.g. 'shieldwall'"
            )
        if not self.hooks or any(h not in HOOKS for h in self.hooks):
            raise ValueError(
                f"nftables hooks {list(self.hooks)!r} are invalid: choose from {list(HOOKS)}"
            )
        if self.verdict not in VERDICTS:
            raise ValueError(
                f"nftables verdict {self.verdict!r} is invalid: use 'drop' or 'reject'"
            )
        if not -1000 <= self.priority <= 1000:
            raise ValueError(
                f"nftables priority {self.priority!r} is out of range: use -1000..1000"
            )
        for net in self.allow:
            parse_network(net)


def timeout_text(expires_at: float, now: float) -> str | None:
    """`` timeout 1234ms`` for an element, "" for no end, None once expired."""
    if math.isinf(expires_at) and expires_at > 0:
        return ""
    left = expires_at - now
    if not left > 0:
        return None
    if left > MAX_TIMEOUT:
        left = MAX_TIMEOUT
    return " timeout " + nft_duration(math.ceil(left * 1000))


def nft_duration(ms: int) -> str:
    """Milliseconds as nft reads durations: ``3600s250ms``, ``1500d`` when longer.

    nft refuses numbers of more than eight digits in a duration (``604800000ms``).
    """
    seconds, rest = divmod(ms, 1000)
    if seconds < 10**8:
        return f"{seconds}s{rest}ms" if rest else f"{seconds}s"
    days, seconds = divmod(seconds, 86400)
    return f"{days}d{seconds}s{rest}ms"


def segment_text(version: int, first: int, last: int) -> str:
    """An interval as nft writes it: address, CIDR when aligned, else ``a-b``."""
    cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    size = last - first + 1
    if size == 1:
        return str(cls(first))
    if size & (size - 1) == 0 and first % size == 0:
        bits = 32 if version == 4 else 128
        return f"{cls(first)}/{bits - size.bit_length() + 1}"
    return f"{cls(first)}-{cls(last)}"


def _elements(items: Iterable[str]) -> str:
    return ", ".join(items)


def check_host(target: str) -> str:
    if not _HOST.match(target):
        raise ValueError(
            f"entry target {target!r} is not a normalised address: use Entry.from_decision"
        )
    return target


class NftablesEnforcer:
    """Enforce entries with nftables; ``runner`` prefixes ``ip netns exec`` if needed."""

    name = "nftables"

    def __init__(
        self,
        config: NftConfig | None = None,
        *,
        runner: Runner | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.config = config or NftConfig()
        self._runner: Runner = runner or CommandRunner()
        self._clock = clock
        self._ledger = Ledger()
        self._segments = {4: Segments(), 6: Segments()}

    # -- protocol -------------------------------------------------------------

    def sync(self, entries: Sequence[Entry]) -> None:
        now = self._clock()
        for entry in entries:
            self._check(entry)
        self._ledger.reset(entries, now)
        self._reload(now)

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        for entry in add:
            self._check(entry)
        now = self._clock()
        changes = self._ledger.batch(add, remove, now) + self._ledger.expire(now)
        script = self.batch_script(changes, now)
        if not script:
            return
        result = self._runner(["nft", "-f", "-"], script)
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no output"])[-1]
            log.warning("nft refused a batch (%s); reloading the whole table", first[:200])
            self._reload(now)

    def expire(self) -> int:
        return 0  # element timeouts expire bans in the kernel

    def close(self) -> None:
        """Nothing to release; the table stays and its elements expire on their own."""

    # -- extras ---------------------------------------------------------------

    def remove_table(self) -> None:
        """Delete our table entirely (uninstall, tests)."""
        name = self.config.table
        run_checked(
            self._runner, ["nft", "-f", "-"], f"add table inet {name}\ndelete table inet {name}\n"
        )

    def listing(self) -> str:
        return run_checked(self._runner, ["nft", "list", "table", "inet", self.config.table])

    def __len__(self) -> int:
        return len(self._ledger)

    # -- scripts ----------------------------------------------------------------

    def table_script(self, now: float) -> str:
        """The whole table, created atomically in place of the previous one."""
        cfg = self.config
        hosts: dict[int, list[str]] = {4: [], 6: []}
        ranges: dict[int, dict[tuple[int, int], float]] = {4: {}, 6: {}}
        for target, expires in self._ledger.effective().items():
            if self._ledger.scopes[target] == "ip":
                tail = timeout_text(expires, now)
                if tail is not None:
                    hosts[6 if ":" in target else 4].append(target + tail)
            else:
                version, first, last = bounds(parse_network(target))
                ranges[version][(first, last)] = expires
        lines = [f"add table inet {cfg.table}", f"delete table inet {cfg.table}"]
        lines.append(f"table inet {cfg.table} {{")
        allow = _collapse(cfg.allow)
        for v, addr in ((4, "ipv4_addr"), (6, "ipv6_addr")):
            lines.append(f"  set allow{v} {{")
            lines.append(f"    type {addr}; flags interval;")
            if allow[v]:
                lines.append(f"    elements = {{ {_elements(allow[v])} }}")
            lines.append("  }")
            lines.append(f"  set hosts{v} {{")
            lines.append(f"    type {addr}; flags timeout;")
            if hosts[v]:
                lines.append(f"    elements = {{ {_elements(hosts[v])} }}")
            lines.append("  }")
            lines.append(f"  set ranges{v} {{")
            lines.append(f"    type {addr}; flags interval, timeout;")
            segs = self._segments[v].load(ranges[v])
            elems = self._segment_elements(v, segs, now)
            if elems:
                lines.append(f"    elements = {{ {_elements(elems)} }}")
            lines.append("  }")
        counter = "counter " if cfg.counters else ""
        verdict = "reject with icmpx type admin-prohibited" if cfg.verdict == "reject" else "drop"
        for hook in cfg.hooks:
            lines.append(f"  chain {hook} {{")
            lines.append(f"    type filter hook {hook} priority {cfg.priority}; policy accept;")
            if hook == "input":
                lines.append('    iif "lo" accept')
            lines.append("    ip saddr @allow4 accept")
            lines.append("    ip6 saddr @allow6 accept")
            # Neighbour discovery is IPv6's ARP (which no IP rule filters either):
            # dropping it would leave a stale neighbour entry after the ban is lifted.
            lines.append("    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept")
            for v, proto in ((4, "ip"), (6, "ip6")):
                for kind in ("hosts", "ranges"):
                    lines.append(f"    {proto} saddr @{kind}{v} {counter}{verdict}")
            lines.append("  }")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def batch_script(self, changes: Sequence[Change], now: float) -> str:
        """Commands for one batch of changes (empty when nothing is to be done)."""
        table = f"inet {self.config.table}"
        deletes: list[str] = []
        adds: list[str] = []
        dirty: set[int] = set()
        for change in changes:
            if change.scope == "ip":
                v = 6 if ":" in change.target else 4
                where = f"{table} hosts{v}"
                live_before = change.before is not None and change.before > now
                tail = None if change.after is None else timeout_text(change.after, now)
                if live_before:
                    # add-then-delete never fails, even if the kernel expired it already
                    deletes.append(f"add element {where} {{ {change.target} timeout 1s }}")
                    deletes.append(f"delete element {where} {{ {change.target} }}")
                if tail is not None:
                    adds.append(f"add element {where} {{ {change.target}{tail} }}")
            else:
                version, first, last = bounds(parse_network(change.target))
                self._segments[version].set(first, last, change.after)
                dirty.add(version)
        for v in sorted(dirty):
            removed, added = self._segments[v].commit()
            gone = [segment_text(v, a, b) for a, b, e in removed if e > now]
            if gone:
                deletes.append(f"delete element {table} ranges{v} {{ {_elements(gone)} }}")
            fresh = self._segment_elements(v, added, now)
            if fresh:
                adds.append(f"add element {table} ranges{v} {{ {_elements(fresh)} }}")
        lines = deletes + adds
        return "\n".join(lines) + "\n" if lines else ""

    # -- internals --------------------------------------------------------------

    def _segment_elements(self, version: int, segs: Sequence[Segment], now: float) -> list[str]:
        out = []
        for first, last, expires in segs:
            tail = timeout_text(expires, now)
            if tail is not None:
                out.append(segment_text(version, first, last) + tail)
        return out

    def _reload(self, now: float) -> None:
        try:
            run_checked(self._runner, ["nft", "-f", "-"], self.table_script(now))
        except EnforcerError as exc:
            raise EnforcerError(f"loading nftables table {self.config.table!r}: {exc}") from None

    @staticmethod
    def _check(entry: Entry) -> None:
        if entry.scope == "ip":
            check_host(entry.target)
        else:
            parse_network(entry.target)


def _collapse(networks: Iterable[str]) -> dict[int, list[str]]:
    by_version: dict[int, list[ipaddress.IPv4Network | ipaddress.IPv6Network]] = {4: [], 6: []}
    for text in networks:
        net = parse_network(text)
        by_version[net.version].append(net)
    return {
        v: [n.with_prefixlen for n in ipaddress.collapse_addresses(nets)]  # type: ignore[type-var]
        for v, nets in by_version.items()
    }
