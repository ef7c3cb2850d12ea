"""Whatever the council accepted, every emitter writes in canonical form, and each
output passes the program that consumes it.

Each example feeds a batch of arbitrary and hostile spellings (plus known-good ones,
so the outputs are never trivially empty) to a council as two members' reports;
every decision is then written by every feed format, the bouncer API, STIX and the
agent's own enforcers, and each output goes through its real consumer: ``sh`` (with
a stand-in ``fail2ban-client`` that records the arguments it really received),
``nft -c -f`` and ``ipset restore`` in a network namespace, ``nginx -t`` and the STIX
pattern grammar.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.validator import run_validator

from shieldwall.agent.enforce.base import CommandRunner, Entry
from shieldwall.agent.enforce.ipset import IpsetEnforcer
from shieldwall.agent.enforce.nftables import NftablesEnforcer
from shieldwall.core.model import Decision, Signal
from shieldwall.interop import feeds, stix
from shieldwall.interop.crowdsec_format import FragmentCache, render
from tests.conftest import require_tool
from tests.core.helpers import council
from tests.interop.test_feeds_interop import _nginx_conf
from tests.security.spellings import HOSTILE, is_canonical, targets

GOOD = ["203.0.113.9", "198.51.100.0/24", "2001:db8::7", "2001:db8:1::/48", "::ffff:203.0.113.77"]
HOSTILE_SPELLINGS = [f"fe80::1%{p}" for p in HOSTILE] + [f"203.0.113.5{p}" for p in HOSTILE]
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CANON_TOKEN = re.compile(r"[0-9a-f.:/]+")


def decided(texts: list[str]) -> list[Decision]:
    """What a nato council decides when two members report each of ``texts``."""
    c = council("nato", members=3)
    now, out = 1.0, []
    for text in [*GOOD, *HOSTILE_SPELLINGS, *texts]:
        for member in ("m0", "m1"):
            now += 1
            out.extend(c.step([Signal(member, text, "ssh", now)], now).decisions)
    assert {d.target for d in out} >= {"203.0.113.9", "2001:db8::7", "203.0.113.77"}
    return out


batches = st.lists(targets(), min_size=5, max_size=40)


@SETTINGS
@given(texts=batches)
def test_fail2ban_script_runs_with_no_expansion(tmp_path_factory: Any, texts: list[str]) -> None:
    ds = decided(texts)
    tmp = tmp_path_factory.mktemp("f2b")
    script = tmp / "feed.sh"
    script.write_text(feeds.render("fail2ban", ds))
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    # A stand-in fail2ban-client records each argument it really received, one a line.
    stub = tmp / "fail2ban-client"
    log = tmp / "argv"
    stub.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a" >> {log}; done\n')
    stub.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp}:{os.environ['PATH']}"}
    run = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = [a for a in log.read_text().splitlines() if a not in ("set", "shieldwall", "banip")]
    expected = [d.target for d in feeds.enforceable(ds)]
    assert got == expected
    assert all(is_canonical(a) for a in got)


@SETTINGS
@given(texts=batches)
def test_text_feeds_carry_canonical_targets_only(texts: list[str]) -> None:
    ds = decided(texts)
    expected = {d.target for d in feeds.enforceable(ds)}
    assert all(is_canonical(t) for t in expected)
    assert set(feeds.render("txt", ds).split()) == expected
    rows = json.loads(feeds.render("json", ds))["decisions"]
    assert {r["value"] for r in rows} == expected
    csv_values = {line.split(",")[0] for line in feeds.render("csv", ds).splitlines()[1:]}
    assert csv_values == expected
    deny = re.findall(r"^deny (\S+);$", feeds.render("nginx", ds), re.M)
    assert set(deny) == expected
    geo = re.findall(r"^    (\S+) 1;$", feeds.render("nginx-geo", ds), re.M)
    assert set(geo) == expected
    for fmt in ("nft", "ipset"):
        body = [ln for ln in feeds.render(fmt, ds).splitlines() if not ln.startswith("#")]
        assert not any(ch in ln for ln in body for ch in "%$`'\"\\|&"), fmt


@SETTINGS
@given(texts=batches)
def test_bouncer_api_and_stix_write_canonical_values(texts: list[str]) -> None:
    ds = decided(texts)
    frags = FragmentCache().get(ds, complete=True)
    served = json.loads(render(frags, 10.0) or "[]")
    assert {d["value"] for d in served} == {d.target for d in ds}
    assert all(is_canonical(d["value"]) for d in served)
    for d in ds:
        pattern = stix.pattern(d.target)
        assert run_validator(pattern) == [], pattern
        assert stix.pattern_targets(pattern) == [d.target]


@pytest.mark.parametrize("fmt", ["nginx", "nginx-geo"])
@SETTINGS
@given(texts=batches)
def test_nginx_accepts_every_feed(tmp_path_factory: Any, fmt: str, texts: list[str]) -> None:
    nginx = require_tool("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    feed = tmp / "feed.conf"
    feed.write_text(feeds.render(fmt, decided(texts)))
    server = (
        f"  server {{ listen 127.0.0.1:65001; include {feed}; location / {{ return 204; }} }}"
        if fmt == "nginx"
        else f"  include {feed};\n  server {{ listen 127.0.0.1:65001;\n"
        "    if ($shieldwall_blocked) { return 403; } }"
    )
    conf = _nginx_conf(tmp, server)
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.netns
@SETTINGS
@given(texts=batches)
def test_nft_and_ipset_consume_feeds_and_enforcers(
    netns: str, run_in_netns: Any, tmp_path_factory: Any, texts: list[str]
) -> None:
    require_tool("nft")
    require_tool("ipset")
    ds = decided(texts)
    tmp: Path = tmp_path_factory.mktemp("nft")
    nft = tmp / "feed.nft"
    nft.write_text(feeds.render("nft", ds))
    check = run_in_netns(netns, "nft", "-c", "-f", str(nft))
    assert check.returncode == 0, check.stderr
    restore = run_in_netns(netns, "ipset", "restore", input=feeds.render("ipset", ds))
    assert restore.returncode == 0, restore.stderr
    # The agent's own enforcers, loading the same decisions for real.
    runner = CommandRunner(prefix=("ip", "netns", "exec", netns))
    entries = [Entry.from_decision(d, expires_at=10**10) for d in feeds.enforceable(ds)]
    assert all(is_canonical(e.target) for e in entries)
    nft_enforcer = NftablesEnforcer(runner=runner)
    nft_enforcer.sync(entries)
    listed = run_in_netns(netns, "nft", "list", "table", "inet", "shieldwall").stdout
    assert "203.0.113.9" in listed and "%" not in listed
    nft_enforcer.remove_table()
    ipset_enforcer = IpsetEnforcer(runner=runner)
    ipset_enforcer.sync(entries)
    listed = run_in_netns(netns, "ipset", "list").stdout
    assert "203.0.113.9" in listed
    ipset_enforcer.remove_all()
    run_in_netns(netns, "ipset", "destroy")
