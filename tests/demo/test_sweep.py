"""The sweep's strategies and the nftables demo's network plan (no root needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shieldwall.demo.alliance import Alliance, Member
from shieldwall.demo.network import ATTACKER_ADDRESS, DemoNetwork, member_address
from shieldwall.demo.sweep import Tally, attempt, file_attempt


def _member(tmp_path: Path, name: str = "member1") -> Member:
    member = Member(name, "192.0.2.11", tmp_path / name, index=1)
    member.root.mkdir()
    member.log.touch()
    return member


def test_attempt_counts_what_the_strategy_says(tmp_path: Path) -> None:
    member = _member(tmp_path)
    tally = Tally()
    answers = iter([False, False, True])
    for n in range(3):
        attempt(member, "203.0.113.66", n, tally, lambda m, ip, n: next(answers))
    assert (tally.reached, tally.blocked) == ({"member1": 2}, {"member1": 1})


def test_file_attempt_logs_until_the_blocklist_holds_the_attacker(tmp_path: Path) -> None:
    member = _member(tmp_path)
    assert file_attempt(member, "203.0.113.66", 1) is False
    assert "Failed password for admin from 203.0.113.66 port 40001" in member.log.read_text()
    member.blocklist.write_text("203.0.113.66\n")
    assert file_attempt(member, "203.0.113.66", 2) is True
    assert member.log.read_text().count("Failed password") == 1


def test_members_live_in_their_namespaces(tmp_path: Path) -> None:
    network = DemoNetwork(3, prefix="swd42")
    alliance = Alliance(tmp_path, 3, enforcer=network.enforcer, address_of=member_address)
    assert [m.address for m in alliance.members] == ["10.231.1.1", "10.231.2.1", "10.231.3.1"]
    assert network.names() == ["swd42-atk", "swd42-m1", "swd42-m2", "swd42-m3"]
    section = network.enforcer.format(name="member2", index=2, address="10.231.2.1")
    assert section == 'backend = "nftables"\nnetns = "swd42-m2"'
    assert ATTACKER_ADDRESS == "10.231.255.66"


def test_the_file_demo_keeps_its_addresses(tmp_path: Path) -> None:
    alliance = Alliance(tmp_path, 2)
    assert [m.address for m in alliance.members] == ["192.0.2.11", "192.0.2.12"]


@pytest.mark.parametrize(
    ("members", "prefix", "message"),
    [
        pytest.param(1, None, "--members 1 must be between 2 and 200", id="too-few"),
        pytest.param(201, None, "--members 201 must be between 2 and 200", id="too-many"),
        pytest.param(3, "swd-1", "'swd-1' must be 1-10 letters or digits", id="prefix-dash"),
        pytest.param(3, "swd12345678", "must be 1-10 letters or digits", id="prefix-long"),
    ],
)
def test_network_refuses_bad_plans(members: int, prefix: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoNetwork(members, prefix=prefix)


def test_the_tcp_strategy_refuses_another_attacker() -> None:
    network = DemoNetwork(2, prefix="swd42")
    member = Member("member1", "10.231.1.1", Path("/nonexistent"), index=1)
    with pytest.raises(
        ValueError, match=re.escape("connects from 10.231.255.66, not 203.0.113.66")
    ):
        network.attempt(member, "203.0.113.66", 0)
