"""Every entry point a target crosses, fed arbitrary text and every spelling we know.

Whatever an entry point accepts travels on in canonical form only (``[0-9a-f.:/]``,
IPv4 never spelt as IPv6, no zone); whatever it refuses is refused with a message
that names the value, never with a crash. The council never decides a protected,
member or special-purpose address, whatever spelling reached it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from shieldwall import wire
from shieldwall.agent.config import parse_config
from shieldwall.core import special
from shieldwall.core.addresses import as_target, canonical, parse_network
from shieldwall.core.model import Decision, Signal
from shieldwall.hub.interop_source import HubSource
from shieldwall.interop import stix
from shieldwall.interop.crowdsec import BadQuery, _address_query
from tests.core.helpers import council
from tests.security.spellings import is_canonical, targets

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEMBERS = {"m0": "10.0.0.1", "m1": "10.0.1.1", "m2": "10.0.2.1"}


def _printable(message: str) -> bool:
    return bool(message) and all(ch >= " " or ch == "\t" for ch in message)


@SETTINGS
@given(targets())
def test_the_parser_yields_canonical_values_or_a_clear_refusal(text: str) -> None:
    try:
        t = as_target(parse_network(text))
    except ValueError as exc:
        assert _printable(str(exc)), repr(str(exc))
        return
    assert is_canonical(t.text), (text, t.text)
    assert canonical(t.text) == t
    assert "%" not in t.text
    # The same addresses Python's own parser reads in the text (zone-free by now).
    loose = ipaddress.ip_network(text.strip(), strict=True)
    mapped = loose.version == 6 and t.version == 4
    if not mapped:
        assert (int(loose.network_address), loose.prefixlen) == (t.first, t.prefixlen)
    else:  # folded: the IPv4 it spells
        assert int(loose.network_address) & 0xFFFFFFFF == t.first
        assert loose.prefixlen - 96 == t.prefixlen


@pytest.mark.parametrize(
    ("spelling", "folded"),
    [
        pytest.param("::ffff:192.0.2.30", "192.0.2.30", id="mapped-dotted"),
        pytest.param("::FFFF:c000:21e", "192.0.2.30", id="mapped-hex-upper"),
        pytest.param("0:0:0:0:0:ffff:c000:21e", "192.0.2.30", id="mapped-exploded"),
        pytest.param("::ffff:c000:200/120", "192.0.2.0/24", id="mapped-range"),
        pytest.param("::192.0.2.30", "192.0.2.30", id="compatible"),
        pytest.param("::ffff:127.0.0.1", "127.0.0.1", id="mapped-loopback"),
    ],
)
def test_ipv4_spelt_as_ipv6_is_folded(spelling: str, folded: str) -> None:
    assert as_target(parse_network(spelling)).text == folded


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("fe80::1%eth0", id="zone"),
        pytest.param("fe80::1%$(touch /tmp/x)", id="zone-shell"),
        pytest.param("2001:db8::1%25eth0", id="zone-url-encoded"),
        pytest.param("203.0.113.9;reboot", id="trailing-command"),
        pytest.param("２０３.０.１１３.９", id="fullwidth-digits"),
        pytest.param("٢٠٣.0.113.9", id="arabic-indic-digits"),
        pytest.param("[2001:db8::1]", id="brackets"),
    ],
)
def test_hostile_spellings_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_network(text)
    assert repr(text) in str(err.value)


# -- the council ------------------------------------------------------------------------


def _inside_any(d: Decision, networks: list[str]) -> bool:
    t = canonical(d.target)
    for text in networks:
        n = as_target(parse_network(text))
        if n.version == t.version and n.first <= t.last and t.first <= n.last:
            return True
    return False


@SETTINGS
@given(st.lists(targets(), min_size=1, max_size=8))
def test_the_council_decides_only_canonical_unprotected_targets(texts: list[str]) -> None:
    c = council("nato", members=3)
    protected = [r.network for r in c.treaty.protected.ranges] + list(MEMBERS.values())
    decisions: list[Decision] = []
    now = 10.0
    for text in texts:
        for member in ("m0", "m1"):
            now += 1
            decisions.extend(c.step([Signal(member, text, "ssh", now)], now).decisions)
    for d in decisions:
        assert is_canonical(d.target), d.target
        assert not _inside_any(d, protected), d.target
        t = canonical(d.target)
        assert (
            special.overlapping(t.version, t.first, t.last, c.treaty.targets.special_allowed)
            is None
        )


@pytest.mark.parametrize(
    ("spelling", "protected"),
    [
        pytest.param("::ffff:10.0.2.1", "10.0.2.1", id="member-mapped"),
        pytest.param("::ffff:a00:200/120", "10.0.2.0/24", id="member-range-mapped"),
        pytest.param("10.0.2.0/24", "10.0.2.0/24", id="member-inside-range"),
        pytest.param("::ffff:127.0.0.1", "127.0.0.1", id="loopback-mapped"),
    ],
)
def test_protection_holds_for_every_spelling(spelling: str, protected: str) -> None:
    c = council("nato", members=3)
    out = [c.step([Signal(m, spelling, "ssh", t)], t) for m, t in (("m0", 1.0), ("m1", 2.0))]
    assert not any(o.decisions for o in out)
    assert [d.target for o in out for d in o.disputes] == [protected, protected]


@pytest.mark.parametrize(
    "target",
    [
        "255.255.255.255",
        "0.0.0.0/24",
        "224.0.0.1",
        "ff02::1",
        "169.254.169.254",
        "fe80::1",
        "240.0.0.9",
        "64:ff9b::c000:21e",
    ],
)
def test_special_purpose_space_is_never_decided(target: str) -> None:
    c = council("nato", members=3)
    out = [c.step([Signal(m, target, "ssh", t)], t) for m, t in (("m0", 1.0), ("m1", 2.0))]
    assert not any(o.decisions or o.consultations for o in out)
    reasons = [n.reason for o in out for n in o.no_action]
    assert reasons and all("space" in r for r in reasons), reasons


def test_documentation_ranges_stay_valid_targets() -> None:
    c = council("nato", members=3)
    decided = []
    for i, target in enumerate(["192.0.2.99", "198.51.100.0/24", "203.0.113.9", "2001:db8::1"]):
        t0 = 10.0 * i
        for m, dt in (("m0", 1.0), ("m1", 2.0)):
            decided += [
                d.target for d in c.step([Signal(m, target, "ssh", t0 + dt)], t0 + dt).decisions
            ]
    assert decided == ["192.0.2.99", "198.51.100.0/24", "203.0.113.9", "2001:db8::1"]


# -- the hub's API, TAXII intake, bouncer queries, agent inputs ---------------------------


@SETTINGS
@given(texts=st.lists(targets(), min_size=1, max_size=5))
def test_signed_signals_through_the_hub_api(make_hub: Callable[..., Any], texts: list[str]) -> None:
    hub = make_hub("nato")
    alpha, bravo = hub.member("alpha", "192.0.2.10"), hub.member("bravo", "192.0.2.20")
    for text in texts:
        for client in (alpha, bravo):
            hub.clock.advance(1)
            response = hub.http.post(
                "/v1/signals", **_signed(client, [{"target": text, "scenario": "ssh"}], hub)
            )
            assert response.status_code in (200, 400), response.text
            if response.status_code == 400:
                assert _printable(response.json()["error"]["message"])
    for d in hub.admin().decisions()["decisions"]:
        assert is_canonical(d["target"]), d
    for d in hub.sec.council.active(hub.clock()):
        assert is_canonical(d.target), d


_SEQ = iter(range(1, 10**9))


def _signed(client: Any, signals: list[dict[str, Any]], hub: Any) -> dict[str, Any]:
    payload = {"member": client.name, "seq": next(_SEQ), "sent_at": hub.clock(), "signals": signals}
    body, headers = client._signed_body(payload)
    return {"content": body, "headers": headers}


@SETTINGS
@given(texts=st.lists(targets(), min_size=1, max_size=5))
def test_taxii_intake_through_the_hub(make_hub: Callable[..., Any], texts: list[str]) -> None:
    hub = make_hub("nato")
    hub.member("alpha", "192.0.2.10")
    source = HubSource(hub.sec)
    for text in texts:
        for kind in ("ipv4-addr", "ipv6-addr"):
            try:
                found = stix.pattern_targets(f"[{kind}:value = '{text}']")
            except ValueError as exc:
                assert _printable(str(exc))
                continue
            assert all(is_canonical(t) for t in found), found
            hub.clock.advance(1)
            signals = [Signal("partner", t, "taxii", hub.clock()) for t in found]
            source.submit_external("partner", signals, hub.clock())
    for d in hub.sec.council.active(hub.clock()):
        assert is_canonical(d.target), d
        stix.pattern(d.target)  # every indicator is written from the parsed value


def _request(query: dict[str, str]) -> Request:
    from urllib.parse import urlencode

    return Request({"type": "http", "query_string": urlencode(query).encode(), "headers": []})


@SETTINGS
@given(text=targets(), key=st.sampled_from(["ip", "range", "value"]))
def test_bouncer_queries_parse_or_refuse(text: str, key: str) -> None:
    try:
        _address_query(_request({key: text}))
    except BadQuery as exc:
        assert _printable(str(exc))


@SETTINGS
@given(text=targets())
def test_decisions_from_a_hostile_hub_are_parsed(text: str) -> None:
    data = wire.decision(Decision(1, "203.0.113.9", "ip", "ban", "ssh", "art5.quorum", (), 0, 60))
    data["target"] = text
    try:
        d = wire.decision_from(data)
    except ValueError as exc:
        assert _printable(str(exc))
        return
    assert is_canonical(d.target), d.target
    assert d.scope == ("range" if "/" in d.target else "ip")


@SETTINGS
@given(text=targets())
def test_agent_configuration_addresses(text: str) -> None:
    data = {
        "agent": {"name": "alpha", "hub": "http://127.0.0.1:1", "key": "a.key", "data": "d"},
        "enforcer": {"backend": "dryrun"},
    }
    data["agent"]["addresses"] = [text]  # type: ignore[index]
    try:
        config = parse_config(data, "agent.toml", Path("/nonexistent"))
    except ValueError as exc:
        assert _printable(str(exc))
        return
    assert all(is_canonical(a) for a in config.addresses), config.addresses
