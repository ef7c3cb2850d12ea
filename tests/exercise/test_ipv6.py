"""IPv6 attackers rotating through their /64, with and without prefix counting."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from shieldwall.cli import main
from shieldwall.core.addresses import canonical
from shieldwall.core.treaty import load_template
from shieldwall.exercise import campaign as cmod
from shieldwall.exercise import ipv6
from shieldwall.exercise.sweep import compare
from shieldwall.exercise.world import Config, World
from tests.exercise.helpers import SMALL, played, tiny_campaign, tiny_members, tiny_world


def rotating(counting: bool, addresses: int = 4) -> World:
    """One IPv6 attacker, eight attempts 10 s apart at member 0 (maxretry 2), each from
    the next of ``addresses`` addresses of its /64; member 0 bans what it catches."""
    c = tiny_campaign([(0, 0, [10.0 * i for i in range(8)])], 2)
    c = replace(c, params=replace(c.params, ipv6_share=1.0, ipv6_addresses=addresses))
    m = tiny_members(2, self_defence=True)
    m = replace(m, params=replace(m.params, prefix_counting=counting))
    return tiny_world(c, m)


@pytest.mark.parametrize(
    ("counting", "addresses", "absorbed", "banned"),
    [
        # the /64 completes maxretry at its second attempt: the ban stops the other six
        pytest.param(True, 4, 2, ["2a0c:b640::/64"], id="per-64-banned-at-the-second"),
        # each address completes maxretry alone at its own second attempt: nothing stopped
        pytest.param(
            False,
            4,
            8,
            ["2a0c:b640::1", "2a0c:b640::2", "2a0c:b640::3", "2a0c:b640::4"],
            id="per-address-each-address-offends-too-late",
        ),
        pytest.param(True, 1, 2, ["2a0c:b640::1"], id="one-address-per-64"),
        pytest.param(False, 1, 2, ["2a0c:b640::1"], id="one-address-per-address"),
    ],
)
def test_a_rotating_attacker_with_and_without_prefix_counting(
    counting: bool, addresses: int, absorbed: int, banned: list[str]
) -> None:
    world = rotating(counting, addresses)
    run, result = played(world, "unilateral")
    assert result.attacks_absorbed == absorbed
    assert result.absorbed_ipv6 == absorbed
    decided = sorted(world.source_text(int(world.campaign.pair_source[p])) for p in run.local_pair)
    assert decided == banned
    assert sorted(r.decision.target for r in run.records) == banned  # unilateral: self-defence


def test_no_ipv6_share_leaves_the_campaign_as_it_was() -> None:
    config = Config(members=20, campaign=cmod.CampaignParams(events=5000, sources=120))
    plain = cmod.generate(config.campaign, config.members, config.seed)
    world = World(config)
    assert world.campaign.src_v6 is None and world.campaign.src_text == {}
    assert np.array_equal(world.campaign.ev_time, plain.ev_time)


def check_campaign(c: cmod.Campaign) -> None:
    """The shape the engine relies on: pairs source-major, events by (pair, time)."""
    assert np.all(np.diff(c.pair_source) >= 0)
    assert np.array_equal(c.pair_start_idx[1:], np.cumsum(c.pair_count)[:-1])
    assert np.all(np.diff(c.ev_pair) >= 0)
    same = c.ev_pair[1:] == c.ev_pair[:-1]
    assert np.all(np.diff(c.ev_time)[same] >= 0)
    assert np.all(c.pair_count > 0)


@pytest.mark.parametrize("addresses", [pytest.param(2, id="2"), pytest.param(16, id="16")])
def test_splitting_per_address_keeps_every_event_and_every_ipv4_attacker(addresses: int) -> None:
    params = cmod.CampaignParams(events=8000, sources=200, ipv6_share=0.3,
                                 ipv6_addresses=addresses)  # fmt: skip
    config = Config(members=30, campaign=params)
    counted = World(config)
    off = World(replace(config, behaviour=replace(config.behaviour, prefix_counting=False)))
    on, c = counted.campaign, off.campaign
    check_campaign(on)
    check_campaign(c)
    assert on.src_v6 is not None and c.src_v6 is not None
    assert np.array_equal(np.sort(c.ev_time), np.sort(on.ev_time))
    assert ipv6.events(c) == ipv6.events(on) > 0
    v4_on, v4_off = ~on.src_v6[on.ev_source], ~c.src_v6[c.ev_source]
    assert np.array_equal(on.ev_time[v4_on], c.ev_time[v4_off])
    assert np.array_equal(on.ev_member[v4_on], c.ev_member[v4_off])
    # with prefix counting an attacker is its /64; without, each address is a source
    prefixes = set(on.src_text.values())
    assert all(text.endswith("/64") for text in prefixes)
    for src, text in on.src_text.items():
        assert counted.lookup(text) == (src, -1) and off.lookup(text) == (-1, -1)
    for src, text in c.src_text.items():
        assert canonical(text).text == text and off.lookup(text) == (src, -1)
        assert str(ipaddress.IPv6Network(f"{text}/64", strict=False)) in prefixes
    n_attackers = int(on.src_v6.sum())
    assert n_attackers < int(c.src_v6.sum()) <= n_attackers * addresses


def test_council_counts_single_addresses_without_prefix_counting() -> None:
    nato = load_template("nato")
    assert ipv6.council_treaty(nato, True) is nato
    alone = ipv6.council_treaty(nato, False)
    assert (alone.targets.prefix_v6, alone.targets.widen_v6) == (128, ())
    assert alone.quorum == nato.quorum and alone.targets.max_range_v6 == 48


def test_prefix_counting_cuts_what_ipv6_attackers_get_through_and_nothing_else() -> None:
    params = cmod.CampaignParams(events=8000, sources=200, ipv6_share=0.3)
    config = Config(members=30, campaign=params)
    world, results = compare(config, ["nato"])
    part = ipv6.comparison(config, world, results, ["nato"])
    assert part is not None
    row = part["treaties"]["nato"]
    per_64 = row["absorbed_ipv6_with_prefix_counting"]
    per_address = row["absorbed_ipv6_without_prefix_counting"]
    assert 0 < per_64 < per_address <= part["ipv6_events"]
    # the IPv4 attackers face the same members and council either way
    assert (row["absorbed_with_prefix_counting"] - per_64
            == row["absorbed_without_prefix_counting"] - per_address)  # fmt: skip


def test_exercise_reports_the_comparison_in_json_terminal_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, html = tmp_path / "r.json", tmp_path / "r.html"
    args = ["exercise", *SMALL, "--compare", "nato", "--no-headline", "--json", str(out)]
    assert main([*args, "--param", "ipv6_share=0.25", "--html", str(html)]) == 0
    part = json.loads(out.read_text())["ipv6_prefix_counting"]
    assert part["ipv6_addresses"] == 16 and part["ipv6_attackers"] > 0
    assert set(part["treaties"]) == {"nato"}
    assert "IPv6 attackers rotating through their /64" in html.read_text()
    assert main([a for a in args if a != "--quiet"] + ["--param", "ipv6_share=0.25"]) == 0
    assert "IPv6 attackers rotating through their /64" in capsys.readouterr().out
    assert main(args) == 0
    assert "ipv6_prefix_counting" not in json.loads(out.read_text())
