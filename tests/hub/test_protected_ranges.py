"""Through the hub's API: a reported range holding a member's address anywhere is refused."""

from __future__ import annotations

import pytest

from .conftest import Hub


def _report(client, target: str) -> dict:
    return client.submit([{"target": target, "scenario": "ssh-bruteforce", "at": client._clock()}])


@pytest.mark.parametrize(
    ("declared", "target"),
    [
        pytest.param("198.51.100.1", "198.51.100.0/24", id="second-address"),
        pytest.param("198.51.100.255", "198.51.100.0/24", id="last-address"),
        pytest.param("2001:db8:5::ff", "2001:db8:5::/48", id="v6-inside"),
    ],
)
def test_range_over_a_member_address_is_disputed_not_decided(
    hub: Hub, declared: str, target: str
) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.member("charlie", declared)
    answers = [_report(alpha, target), _report(bravo, target)]
    assert [a["decisions"] for a in answers] == [[], []]
    assert all(a["disputes"] and "charlie" in str(a["disputes"]) for a in answers), answers
    assert hub.admin().decisions()["decisions"] == []
    disputes = hub.admin().get("/v1/disputes")["disputes"]
    assert sorted((d["member"], d["target"]) for d in disputes) == [
        ("alpha", target),
        ("bravo", target),
    ]


def test_range_next_to_a_member_address_is_decided(hub: Hub) -> None:
    alpha = hub.member("alpha", "192.0.2.10")
    bravo = hub.member("bravo", "192.0.2.20")
    hub.member("charlie", "198.51.101.0")
    _report(alpha, "198.51.100.0/24")
    assert _report(bravo, "198.51.100.0/24")["disputes"] == []
    decisions = hub.admin().decisions()["decisions"]
    assert [d["target"] for d in decisions] == ["198.51.100.0/24"]
