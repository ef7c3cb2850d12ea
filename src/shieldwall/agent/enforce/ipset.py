"""ipset + iptables enforcer, for hosts that use iptables rather than nftables.

Sets (prefix configurable, ``shieldwall``)::

    shieldwall4 / shieldwall6              hash:net with timeout: banned addresses and ranges
    shieldwall4-allow / shieldwall6-allow  hash:net: own addresses, allowlist, hub

and a chain ``SHIELDWALL`` in the filter table of iptables and ip6tables, jumped to
first from INPUT (and FORWARD if configured)::

    -i lo -j RETURN; allow set -> RETURN; ban set -> DROP (or REJECT)

hash:net holds overlapping networks side by side, so no segmenting is needed. A full
sync fills a temporary set and swaps it in (``ipset swap`` is atomic); a batch is one
``ipset -exist restore`` (``add`` refreshes the timeout of an entry already there,
``del`` of a missing one is not an error). ipset timeouts stop at 2,147,483 s (24.8
days): longer bans are loaded with that timeout and refreshed by the next sync.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from shieldwall.agent.enforce.base import (
    Change,
    Clock,
    CommandRunner,
    Entry,
    Ledger,
    Runner,
    remaining,
    run_checked,
)
from shieldwall.agent.enforce.nftables import HOOKS, VERDICTS, check_host
from shieldwall.core.addresses import normalise, parse_network

IPSET_MAX_TIMEOUT = 2147483
_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,19}$")
_CHAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,27}$")


@dataclass(frozen=True, slots=True)
class IpsetConfig:
    prefix: str = "shieldwall"
    chain: str = "SHIELDWALL"
    hooks: tuple[str, ...] = ("input",)
    verdict: str = "drop"
    allow: tuple[str, ...] = ()
    maxelem: int = 1048576

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(
                f"ipset prefix {self.prefix!r} is invalid: use letters, digits and _ "
                "(at most 20 characters), e.g. 'shieldwall'"
            )
        if not _CHAIN.match(self.chain):
            raise ValueError(
                f"iptables chain {self.chain!r} is invalid: use letters, digits and _ "
                "(at most 28 characters)"
            )
        if not self.hooks or any(h not in HOOKS for h in self.hooks):
            raise ValueError(
                f"ipset hooks {list(self.hooks)!r} are invalid: choose from {list(HOOKS)}"
            )
        if self.verdict not in VERDICTS:
            raise ValueError(f"ipset verdict {self.verdict!r} is invalid: use 'drop' or 'reject'")
        if not 1024 <= self.maxelem <= 1 << 26:
            raise ValueError(f"ipset maxelem {self.maxelem!r} is out of range: use 1024..67108864")
        for net in self.allow:
            parse_network(net)

    def set_name(self, version: int, kind: str = "") -> str:
        return f"{self.prefix}{version}{'-' + kind if kind else ''}"


def ipset_timeout(expires_at: float, now: float) -> int | None:
    """Whole seconds for ``timeout`` (0 = no end in ipset); None once expired."""
    if math.isinf(expires_at) and expires_at > 0:
        return 0
    left = remaining(expires_at, now)
    if left is None:
        return None
    return min(IPSET_MAX_TIMEOUT, max(1, math.ceil(left)))


class IpsetEnforcer:
    name = "ipset"

    def __init__(
        self,
        config: IpsetConfig | None = None,
        *,
        runner: Runner | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.config = config or IpsetConfig()
        self._runner: Runner = runner or CommandRunner()
        self._clock = clock
        self._ledger = Ledger()
        self._rules_ready = False

    def sync(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            _check(entry)
        now = self._clock()
        self._ledger.reset(entries, now)
        run_checked(self._runner, ["ipset", "-exist", "restore"], self.sync_script(now))
        self._install_rules()

    def apply(self, add: Sequence[Entry], remove: Sequence[Entry]) -> None:
        for entry in add:
            _check(entry)
        now = self._clock()
        changes = self._ledger.batch(add, remove, now) + self._ledger.expire(now)
        script = self.batch_script(changes, now)
        if not script:
            return
        result = self._runner(["ipset", "-exist", "restore"], script)
        if result.returncode != 0:
            # sets missing or changed by hand: rebuild everything from the ledger
            run_checked(self._runner, ["ipset", "-exist", "restore"], self.sync_script(now))
            self._install_rules()

    def expire(self) -> int:
        return 0

    def close(self) -> None:
        """Nothing to release; sets and rules stay, entries expire on their own."""

    def __len__(self) -> int:
        return len(self._ledger)

    # -- scripts ------------------------------------------------------------------

    def _create(self, name: str, family: str, timeout: bool) -> str:
        tail = " timeout 0" if timeout else ""
        return f"create {name} hash:net family {family}{tail} maxelem {self.config.maxelem}"

    def sync_script(self, now: float) -> str:
        cfg = self.config
        lines: list[str] = []
        allow: dict[int, list[str]] = {4: [], 6: []}
        for net in cfg.allow:
            n = parse_network(net)
            allow[n.version].append(normalise(n)[0])
        held: dict[int, list[str]] = {4: [], 6: []}
        for target, expires in sorted(self._ledger.effective().items()):
            timeout = ipset_timeout(expires, now)
            if timeout is not None:
                held[6 if ":" in target else 4].append(f"{target} timeout {timeout}")
        for v, family in ((4, "inet"), (6, "inet6")):
            for kind, items, timeout in (("", held[v], True), ("allow", allow[v], False)):
                name = cfg.set_name(v, kind)
                tmp = cfg.set_name(v, f"{kind}t" if kind else "tmp")
                lines.append(self._create(name, family, timeout))
                lines.append(self._create(tmp, family, timeout))
                lines.append(f"flush {tmp}")
                lines.extend(f"add {tmp} {item}" for item in items)
                lines.append(f"swap {tmp} {name}")
                lines.append(f"destroy {tmp}")
        return "\n".join(lines) + "\n"

    def batch_script(self, changes: Sequence[Change], now: float) -> str:
        lines = []
        for change in changes:
            name = self.config.set_name(6 if ":" in change.target else 4)
            timeout = None if change.after is None else ipset_timeout(change.after, now)
            if timeout is None:
                lines.append(f"del {name} {change.target}")
            else:
                lines.append(f"add {name} {change.target} timeout {timeout}")
        return "\n".join(lines) + "\n" if lines else ""

    def rules_script(self, version: int) -> str:
        cfg = self.config
        action = "REJECT" if cfg.verdict == "reject" else "DROP"
        # IPv6 neighbour discovery passes, as ARP does for IPv4: dropping it would
        # leave a stale neighbour entry that outlives the ban.
        nd = [
            f"-A {cfg.chain} -p ipv6-icmp --icmpv6-type {kind} -j RETURN"
            for kind in ("neighbour-solicitation", "neighbour-advertisement")
        ]
        return "\n".join(
            [
                "*filter",
                f":{cfg.chain} - [0:0]",
                f"-A {cfg.chain} -i lo -j RETURN",
                f"-A {cfg.chain} -m set --match-set {cfg.set_name(version, 'allow')} src -j RETURN",
                *(nd if version == 6 else []),
                f"-A {cfg.chain} -m set --match-set {cfg.set_name(version)} src -j {action}",
                "COMMIT",
                "",
            ]
        )

    def _install_rules(self) -> None:
        for version, tool in ((4, "iptables"), (6, "ip6tables")):
            run_checked(self._runner, [f"{tool}-restore", "--noflush"], self.rules_script(version))
            for hook in self.config.hooks:
                builtin = hook.upper()
                check = self._runner([tool, "-C", builtin, "-j", self.config.chain])
                if check.returncode != 0:
                    run_checked(self._runner, [tool, "-I", builtin, "1", "-j", self.config.chain])

    def remove_all(self) -> None:
        """Take our chain and sets away (uninstall, tests)."""
        cfg = self.config
        for tool in ("iptables", "ip6tables"):
            for hook in cfg.hooks:
                self._runner([tool, "-D", hook.upper(), "-j", cfg.chain])
            self._runner([tool, "-F", cfg.chain])
            self._runner([tool, "-X", cfg.chain])
        for v in (4, 6):
            for kind in ("", "allow"):
                self._runner(["ipset", "destroy", cfg.set_name(v, kind)])


def _check(entry: Entry) -> None:
    if entry.scope == "ip":
        check_host(entry.target)
    else:
        parse_network(entry.target)
