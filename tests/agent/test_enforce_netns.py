"""Real enforcement inside network namespaces: banned traffic is dropped, the rest passes.

Runs as root with nft (and ipset/iptables for that backend); skipped with the reason
otherwise, and failing instead under CI=true.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from shieldwall.agent.enforce.base import Entry
from shieldwall.agent.enforce.ipset import IpsetConfig, IpsetEnforcer
from shieldwall.agent.enforce.nftables import NftablesEnforcer, NftConfig
from shieldwall.agent.policy import load_policy
from shieldwall.core.model import Decision, Scope
from tests.agent.netns import (
    ALLOWED_IP,
    ATTACKER_IP,
    ATTACKER_IP6,
    MEMBER_IP,
    OTHER_IP,
    VethPair,
)
from tests.conftest import require_root, require_tool
from tests.waiting import wait

pytestmark = pytest.mark.netns

Enforcer = NftablesEnforcer | IpsetEnforcer
Factory = Callable[[VethPair, tuple[str, ...]], Enforcer]


def nftables(pair: VethPair, allow: tuple[str, ...]) -> Enforcer:
    require_tool("nft")
    return NftablesEnforcer(NftConfig(allow=allow), runner=pair.runner())


def ipset(pair: VethPair, allow: tuple[str, ...]) -> Enforcer:
    require_tool("ipset")
    require_tool("iptables")
    require_tool("ip6tables")
    return IpsetEnforcer(IpsetConfig(allow=allow), runner=pair.runner())


BACKENDS = [pytest.param(nftables, id="nftables"), pytest.param(ipset, id="ipset")]


@pytest.fixture
def pair() -> Iterator[VethPair]:
    require_root()
    require_tool("ip")
    veth = VethPair.create()
    try:
        veth.listen()
        yield veth
    finally:
        veth.close()


def entry(target: str, seconds: float, decision_id: int) -> Entry:
    scope: Scope = "range" if "/" in target else "ip"
    return Entry(target, scope, time.time() + seconds, decision_id)


@pytest.mark.parametrize("make", BACKENDS)
def test_banned_address_is_dropped_and_others_pass(make: Factory, pair: VethPair) -> None:
    enforcer = make(pair, (MEMBER_IP, ALLOWED_IP))
    assert pair.can_connect(ATTACKER_IP), "the path works before any ban"
    enforcer.sync([entry(ATTACKER_IP, 600, 1)])
    assert not pair.can_connect(ATTACKER_IP)
    assert pair.can_connect(OTHER_IP)
    assert pair.can_connect(ALLOWED_IP)


@pytest.mark.parametrize("make", BACKENDS)
def test_range_ban_spares_allowlisted_and_own_addresses(make: Factory, pair: VethPair) -> None:
    # The policy would refuse this range; the firewall must still never block the
    # allowlist or the member itself (defence in depth).
    enforcer = make(pair, (MEMBER_IP, ALLOWED_IP))
    enforcer.sync([entry("10.77.0.0/24", 600, 1)])
    assert not pair.can_connect(ATTACKER_IP)
    assert not pair.can_connect(OTHER_IP)
    assert pair.can_connect(ALLOWED_IP)
    assert pair.can_connect(MEMBER_IP)


@pytest.mark.parametrize("make", BACKENDS)
def test_expired_decision_stops_dropping(make: Factory, pair: VethPair) -> None:
    enforcer = make(pair, (MEMBER_IP,))
    enforcer.sync([entry(ATTACKER_IP, 2, 1), entry(OTHER_IP, 600, 2)])
    assert not pair.can_connect(ATTACKER_IP, wait=0.5)
    enforcer.close()  # the agent is gone: only the kernel's timeout can lift the ban
    wait(lambda: pair.can_connect(ATTACKER_IP, wait=0.5), what="the kernel to expire the ban")
    assert not pair.can_connect(OTHER_IP)


@pytest.mark.parametrize("make", BACKENDS)
def test_incremental_add_and_revocation(make: Factory, pair: VethPair) -> None:
    enforcer = make(pair, (MEMBER_IP,))
    enforcer.sync([])
    assert pair.can_connect(OTHER_IP)
    enforcer.apply([entry(OTHER_IP, 600, 7)], [])
    assert not pair.can_connect(OTHER_IP)
    enforcer.apply([entry("10.77.0.0/30", 600, 8)], [])  # .0-.3: .2 banned, .3 allowlisted
    assert not pair.can_connect(ATTACKER_IP)
    enforcer.apply([], [entry(OTHER_IP, 0, 7), entry("10.77.0.0/30", 0, 8)])
    assert pair.can_connect(OTHER_IP)
    assert pair.can_connect(ATTACKER_IP)


@pytest.mark.parametrize("make", BACKENDS)
def test_ipv6_ban(make: Factory, pair: VethPair) -> None:
    enforcer = make(pair, ())
    enforcer.sync([entry("fd77::/126", 600, 1)])
    assert not pair.can_connect(ATTACKER_IP6, dest="fd77::1")
    enforcer.apply([], [entry("fd77::/126", 0, 1)])
    assert pair.can_connect(ATTACKER_IP6, dest="fd77::1")


def test_policy_then_nftables_end_to_end(pair: VethPair) -> None:
    policy = load_policy(
        {"allowlist": [ALLOWED_IP]}, member="m1", own_addresses=[MEMBER_IP], hubs=["10.77.0.9"]
    )
    now = time.time()
    decisions = [
        Decision(1, ATTACKER_IP, "ip", "ban", "ssh", "art5.quorum", ("a", "b"), now, now + 600),
        Decision(2, ALLOWED_IP, "ip", "ban", "ssh", "art5.quorum", ("a", "b"), now, now + 600),
        Decision(3, "10.77.0.0/24", "range", "ban", "ssh", "art5.quorum", ("a",), now, now + 60),
    ]
    accepted, refused = policy.filter(decisions, now)
    assert [e.decision_id for e in accepted] == [1]
    assert {r.decision_id: r.rule for r in refused} == {2: "protected", 3: "protected"}
    enforcer = nftables(pair, policy.protected)
    enforcer.sync(accepted)
    assert not pair.can_connect(ATTACKER_IP)
    assert pair.can_connect(ALLOWED_IP)
    assert pair.can_connect(OTHER_IP)
