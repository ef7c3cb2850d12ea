"""IPv6 attackers that rotate through the addresses of their own /64.

An IPv6 host usually owns a whole /64 and can use a new address for every attempt.
``ipv6_share`` of the attackers (of every kind; shared NAT addresses excepted) are such
hosts: each uses ``ipv6_addresses`` addresses of its /64 in turn, a new one for each
attempt, in time order across all its victims. Whether that hides them depends on
prefix counting (the member parameter ``prefix_counting``, on by default as in the
agent):

* on: members' detectors count the attacker's attempts per /64 as well as per address
  (the agent's ``prefix_v6 = 64``) and, since several of its addresses took part,
  report the /64; decisions and local bans cover the /64, so they stop every address
  of the attacker. The attacker stays one source, named by its /64.
* off: detectors and council count single addresses, as before prefix counting (the
  treaty is run with ``[targets] prefix_v6 = 128`` and no widening). Each address
  becomes a source of its own that carries every ``ipv6_addresses``-th attempt of the
  attacker: a detector fires only once one address alone completes ``maxretry``
  within findtime, and a decision or a local ban stops that address only.

Each attacker's /64 lies in a /48 of its own, so decided /64s never widen into one
another here (widening is measured by the council's own tests).
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.addresses import as_target
from shieldwall.core.treaty import Treaty, load_treaty
from shieldwall.exercise.campaign import Campaign

if TYPE_CHECKING:
    from shieldwall.exercise.metrics import TreatyResult
    from shieldwall.exercise.sweep import Progress
    from shieldwall.exercise.world import Config, World

#: attackers' prefixes: the /64 at the start of one /48 each, from 2a0c:b640::/32 up
BASE = 0x2A0C_B640 << 96
PER_ADDRESS = 128  # a treaty's prefix_v6 that counts single addresses


def chosen(c: Campaign) -> NDArray[np.bool_]:
    """Which of the generated sources are IPv6 attackers (never a shared NAT address)."""
    share = c.params.ipv6_share
    S = c.src_kind.size
    if share <= 0.0 or S == 0:
        return np.zeros(S, dtype=bool)
    rng = np.random.default_rng(np.random.SeedSequence([c.seed, 0x1F6]))
    return (rng.random(S) < share) & (c.src_users == 0)


def prefix_text(attacker: int) -> str:
    """The /64 IPv6 attacker ``attacker`` owns (its index among the sources)."""
    return as_target(ipaddress.IPv6Network((BASE + (attacker << 80), 64))).text


def address_text(attacker: int, k: int) -> str:
    """The ``k``-th address (from 0) the attacker uses inside its /64."""
    return as_target(ipaddress.IPv6Network((BASE + (attacker << 80) + k + 1, 128))).text


def rotate(c: Campaign, counting: bool) -> Campaign:
    """The campaign with its IPv6 attackers, seen with or without prefix counting."""
    v6 = chosen(c)
    if not v6.any():
        return c
    k = c.params.ipv6_addresses
    attackers = np.flatnonzero(v6).tolist()
    if counting or k == 1:
        name = prefix_text if k > 1 else (lambda a: address_text(a, 0))
        return replace(c, src_v6=v6, src_text={a: name(a) for a in attackers})
    return _split(c, v6, k)


def _split(c: Campaign, v6: NDArray[np.bool_], k: int) -> Campaign:
    """Each IPv6 attacker as ``k`` sources, one per address (module doc: "off")."""
    S, P = c.src_kind.size, c.pair_source.size
    attackers = np.flatnonzero(v6)
    # New sources S.. hold addresses 1..k-1 of each attacker; address 0 keeps its index.
    first_new = np.full(S, -1, dtype=np.int64)
    first_new[attackers] = S + np.arange(attackers.size, dtype=np.int64) * (k - 1)
    ev_source = c.ev_source
    # Rank of each event among its attacker's events in time order: the address it used.
    order = np.lexsort((c.ev_time, ev_source))
    starts = np.searchsorted(ev_source[order], np.arange(S + 1, dtype=np.int64))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size, dtype=np.int64) - np.repeat(starts[:-1], np.diff(starts))
    address = np.where(v6[ev_source], rank % k, 0)
    new_source = np.where(address > 0, first_new[ev_source] + address - 1, ev_source)
    # Addresses an attacker with fewer attempts than addresses never used: no source.
    spare = np.unique(new_source[new_source >= S])
    new_source = np.where(new_source >= S, S + np.searchsorted(spare, new_source), new_source)
    # Pairs: (new source, original pair), sorted that way; events by (pair, time).
    key = new_source * P + c.ev_pair
    unique, ev_pair = np.unique(key, return_inverse=True)
    ev_pair = ev_pair.astype(np.int64)
    pair_source = (unique // P).astype(np.int64)
    pair_member = c.pair_member[unique % P]
    ev_order = np.lexsort((c.ev_time, ev_pair))
    ev_pair = ev_pair[ev_order]
    counts = np.bincount(ev_pair, minlength=unique.size).astype(np.int64)
    pair_start = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)

    n_new = spare.size
    slot = spare - S  # (attacker's position among the attackers) * (k - 1) + address - 1
    origin = np.concatenate((np.arange(S, dtype=np.int64), attackers[slot // (k - 1)]))
    src_v6 = np.concatenate((v6, np.ones(n_new, dtype=bool)))
    text = {int(a): address_text(int(a), 0) for a in attackers}
    for j in range(n_new):
        text[S + j] = address_text(int(origin[S + j]), int(slot[j]) % (k - 1) + 1)
    return replace(
        c,
        src_kind=c.src_kind[origin],
        src_addr=c.src_addr[origin],
        src_users=np.where(src_v6, 0, c.src_users[origin]),
        src_host=np.where(src_v6, -1, c.src_host[origin]),
        src_start=c.src_start[origin],
        pair_source=pair_source,
        pair_member=pair_member,
        pair_start_idx=pair_start,
        pair_count=counts,
        ev_time=c.ev_time[ev_order],
        ev_pair=ev_pair,
        src_v6=src_v6,
        src_text=text,
    )


def council_treaty(treaty: Treaty, counting: bool) -> Treaty:
    """The treaty as the council applies it: without prefix counting, per address."""
    rules = treaty.targets
    if counting or (rules.prefix_v6 == PER_ADDRESS and not rules.widen_v6):
        return treaty
    from shieldwall.exercise.sweep import override

    text = override(treaty.text, "targets", "prefix_v6", str(PER_ADDRESS))
    text = override(text, "targets", "widen_v6", "[]")
    return load_treaty(text, source=f"treaty {treaty.name} counting single addresses")


def absorbed(c: Campaign, blocked: NDArray[np.bool_]) -> int:
    """Attack events from IPv6 attackers that reached their member."""
    if c.src_v6 is None:
        return 0
    return int((c.src_v6[c.ev_source] & ~blocked).sum())


def events(c: Campaign) -> int:
    """Attack events from IPv6 attackers."""
    return 0 if c.src_v6 is None else int(c.src_v6[c.ev_source].sum())


def comparison(
    config: Config,
    world: World,
    results: dict[str, TreatyResult],
    treaties: list[str],
    progress: Progress | None = None,
) -> dict[str, Any] | None:
    """IPv6 attackers' absorbed events per treaty with prefix counting on and off: the
    same world (seed, members, attackers) played again with the other setting.

    None when the campaign has no IPv6 attacker.
    """
    if events(world.campaign) == 0:
        return None
    from shieldwall.exercise.sweep import compare, relabel
    from shieldwall.exercise.world import World

    on = config.behaviour.prefix_counting
    other = replace(config, behaviour=replace(config.behaviour, prefix_counting=not on))
    other_world = World(other)
    tick = relabel(progress, "{} (prefix counting " + ("off)" if on else "on)"))
    _, flipped = compare(other, treaties, progress=tick, world=other_world)
    with_counting, without = (results, flipped) if on else (flipped, results)
    counted = world if on else other_world  # there each attacker is one source
    v6 = counted.campaign.src_v6
    return {
        "ipv6_share": config.campaign.ipv6_share,
        "ipv6_addresses": config.campaign.ipv6_addresses,
        "ipv6_attackers": 0 if v6 is None else int(v6.sum()),
        "ipv6_events": events(world.campaign),
        "treaties": {
            name: {
                "absorbed_ipv6_with_prefix_counting": with_counting[name].absorbed_ipv6,
                "absorbed_ipv6_without_prefix_counting": without[name].absorbed_ipv6,
                "absorbed_with_prefix_counting": with_counting[name].attacks_absorbed,
                "absorbed_without_prefix_counting": without[name].attacks_absorbed,
            }
            for name in results
        },
    }
