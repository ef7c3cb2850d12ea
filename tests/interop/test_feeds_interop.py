"""Blocklist feeds: rendering, HTTP with ETag, and each format through its real consumer."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from shieldwall.interop import feeds
from shieldwall.interop.feed_routes import feed_routes
from tests.conftest import require_tool

TARGETS = ["203.0.113.9", "198.51.100.0/24", "198.51.100.7", "2001:db8::1", "2001:db8:1::/48"]


@pytest.fixture
def decisions(decide) -> list:
    out = [decide(i + 1, t) for i, t in enumerate(TARGETS)]
    out.append(decide(90, "192.0.2.1", action="watch"))
    out.append(decide(91, "192.0.2.2", recommended=True))
    out.append(decide(92, "192.0.2.3", applies_to=("alpha",)))
    out.append(decide(93, "192.0.2.4", scenario='=HYPERLINK("x")'))
    return out


def test_txt_lists_only_binding_bans_sorted(decisions) -> None:
    assert feeds.render("txt", decisions).splitlines() == [
        "192.0.2.4",
        "198.51.100.0/24",
        "198.51.100.7",
        "203.0.113.9",
        "2001:db8::1",
        "2001:db8:1::/48",
    ]


def test_same_decisions_give_identical_text(decisions) -> None:
    for fmt in feeds.FORMATS:
        assert feeds.render(fmt, decisions) == feeds.render(fmt, list(reversed(decisions))), fmt


def test_csv_neutralises_formulas(decisions) -> None:
    text = feeds.render("csv", decisions)
    assert "'=HYPERLINK" in text
    assert text.splitlines()[0] == "value,scope,type,scenario,issued_at,expires_at,clause,id"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"jail": "sshd; rm -rf /"},
            "jail 'sshd; rm -rf /' is not valid: use a letter then up to 30 letters, digits, "
            "'_' or '-'",
            id="jail-injection",
        ),
        pytest.param(
            {"variable": "bad-name"},
            "nginx variable 'bad-name' may not contain '-': use letters, digits, '_'",
            id="nginx-variable",
        ),
    ],
)
def test_options_are_validated(kwargs, message) -> None:
    with pytest.raises(ValueError) as err:
        feeds.FeedOptions(**kwargs)
    assert str(err.value) == message


def test_unknown_format_names_the_choices(decisions) -> None:
    with pytest.raises(ValueError, match="feed format 'pf' is unknown: use one of txt, nft"):
        feeds.render("pf", decisions)


# -- over HTTP ---------------------------------------------------------------


def get(app: Starlette, url: str, **headers: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as c:
            return await c.get(url, headers=headers)

    return asyncio.run(go())


@pytest.mark.parametrize("fmt", list(feeds.FORMATS))
def test_http_feed_etag_and_304(fmt, source, decide, clock) -> None:
    app = Starlette(routes=feed_routes(source, clock=clock))
    source.add(decide(1, "203.0.113.9"))
    r = get(app, f"/feeds/{fmt}")
    assert r.status_code == 200
    assert "203.0.113.9" in r.text
    etag = r.headers["etag"]
    same = get(app, f"/feeds/{fmt}", **{"If-None-Match": etag})
    assert (same.status_code, same.content) == (304, b"")
    source.add(decide(2, "203.0.113.10"))
    changed = get(app, f"/feeds/{fmt}", **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "203.0.113.10" in changed.text


def test_http_feed_changes_when_a_decision_expires(source, decide, clock) -> None:
    app = Starlette(routes=feed_routes(source, clock=clock))
    source.add(decide(1, "203.0.113.9", ttl=20))
    etag = get(app, "/feeds/txt").headers["etag"]
    clock.now += 60
    r = get(app, "/feeds/txt", **{"If-None-Match": etag})
    assert (r.status_code, r.text) == (200, "")


@pytest.mark.parametrize(
    ("url", "status", "error"),
    [
        pytest.param("/feeds/pf", 404, "feed format 'pf' is unknown", id="format"),
        pytest.param("/feeds/nft?set=x%20y", 400, "set name 'x y' is not valid", id="set-name"),
        pytest.param("/feeds/nft?table=1abc", 400, "table '1abc' is not valid", id="table"),
        pytest.param(
            "/feeds/nginx-geo?variable=a%24b", 400, "variable 'a$b' is not valid", id="variable"
        ),
        pytest.param(
            "/feeds/fail2ban?jail=sshd%3Breboot", 400, "jail 'sshd;reboot' is not valid", id="jail"
        ),
    ],
)
def test_http_feed_errors(source, clock, url, status, error) -> None:
    app = Starlette(routes=feed_routes(source, clock=clock))
    r = get(app, url)
    assert r.status_code == status
    assert r.json()["error"]["message"].startswith(error)


def test_http_feed_authorize_hook(source, clock) -> None:
    app = Starlette(routes=feed_routes(source, clock=clock, authorize=lambda req: False))
    assert get(app, "/feeds/txt").status_code == 401


# -- through the real consumers ------------------------------------------------


def _many(decide: Any, n: int) -> list:
    return [decide(i + 1, f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}") for i in range(n)]


@pytest.mark.netns
def test_nft_script_loads_in_a_namespace(decisions, decide, netns, run_in_netns, tmp_path) -> None:
    require_tool("nft")
    path = tmp_path / "feed.nft"
    path.write_text(feeds.render("nft", decisions + _many(decide, 5000)))
    check = run_in_netns(netns, "nft", "-c", "-f", str(path))
    assert check.returncode == 0, check.stderr
    for _ in range(2):  # loading twice replaces the contents: the script is re-runnable
        load = run_in_netns(netns, "nft", "-f", str(path))
        assert load.returncode == 0, load.stderr
    listed = run_in_netns(netns, "nft", "list", "set", "inet", "shieldwall", "shieldwall-v4")
    assert "203.0.113.9" in listed.stdout
    assert "198.51.100.0/24" in listed.stdout
    assert "192.0.2.1" not in listed.stdout  # a watch decision is not enforced
    six = run_in_netns(netns, "nft", "list", "set", "inet", "shieldwall", "shieldwall-v6")
    assert "2001:db8:1::/48" in six.stdout
    chain = run_in_netns(netns, "nft", "list", "chain", "inet", "shieldwall", "input")
    assert "hook input" in chain.stdout
    rules = [ln.strip() for ln in chain.stdout.splitlines() if "saddr" in ln]
    # loaded twice above: the rules were replaced, not stacked
    assert rules == ["ip saddr @shieldwall-v4 drop", "ip6 saddr @shieldwall-v6 drop"]


@pytest.mark.netns
def test_ipset_restore_in_a_namespace(decisions, decide, netns, run_in_netns, tmp_path) -> None:
    require_tool("ipset")
    text = feeds.render("ipset", decisions + _many(decide, 3000))
    for _ in range(2):  # re-applying swaps in a fresh set
        r = run_in_netns(netns, "ipset", "restore", input=text)
        assert r.returncode == 0, r.stderr
    probes = [
        ("203.0.113.9", 0),
        ("198.51.100.200", 0),
        ("10.0.11.183", 0),  # the 3000th generated address
        ("10.0.11.184", 1),
        ("192.0.2.1", 1),  # a watch decision is not enforced
    ]
    for addr, expected in probes:
        test = run_in_netns(netns, "ipset", "test", "shieldwall-v4", addr)
        assert test.returncode == expected, (addr, test.stderr)
    six = run_in_netns(netns, "ipset", "test", "shieldwall-v6", "2001:db8:1::5")
    assert six.returncode == 0, six.stderr
    leftovers = run_in_netns(netns, "ipset", "list", "-n")
    assert sorted(leftovers.stdout.split()) == ["shieldwall-v4", "shieldwall-v6"]


def _nginx_conf(tmp: Path, http_extra: str) -> Path:
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n"
        f"  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fcgi;\n"
        f"  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"{http_extra}\n}}\n"
    )
    return conf


@pytest.mark.parametrize(
    ("fmt", "http_extra"),
    [
        pytest.param(
            "nginx",
            "  server {{ listen 127.0.0.1:65001; include {feed}; location / {{ return 204; }} }}",
            id="deny-include",
        ),
        pytest.param(
            "nginx-geo",
            "  include {feed};\n  server {{ listen 127.0.0.1:65001;\n"
            "    if ($shieldwall_blocked) {{ return 403; }} }}",
            id="geo-map",
        ),
    ],
)
def test_nginx_accepts_the_feed(fmt, http_extra, decisions, decide, tmp_path) -> None:
    nginx = require_tool("nginx")
    feed = tmp_path / "feed.conf"
    feed.write_text(feeds.render(fmt, decisions + _many(decide, 2000)))
    conf = _nginx_conf(tmp_path, http_extra.format(feed=feed))
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "test is successful" in r.stderr


def test_nginx_rejects_a_broken_include(tmp_path) -> None:
    """The consumer check above can fail: a bad feed is caught."""
    nginx = require_tool("nginx")
    feed = tmp_path / "feed.conf"
    feed.write_text("deny 203.0.113.999;\n")
    conf = _nginx_conf(tmp_path, f"  server {{ listen 127.0.0.1:65001; include {feed}; }}")
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
