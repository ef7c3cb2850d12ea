"""The alliance console in headless Chromium against a real hub process.

The hub runs a treaty whose first ladder rung lasts seconds, so a decision expires
while the test watches. Screenshots go to ``SHIELDWALL_SCREENSHOTS`` (a directory)
when it is set, else to the test's temporary directory.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from shieldwall.client import HubClient
from shieldwall.core.treaty import template_text
from shieldwall.procs import free_port
from shieldwall.signing import SigningKey
from tests.conftest import CHROMIUM_ARGS, require_tool
from tests.waiting import wait

from .conftest import HubProcess, cli_json

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

RUNG_S = 12  # the first ladder rung: long enough to revoke, short enough to watch expire
REVOKED, EXPIRING, CONSULTED = "203.0.113.9", "203.0.113.50", "198.51.100.4"
LONG_REASON = (
    "reported from a shared address behind a carrier-grade NAT; the customer's "
    "helpdesk confirmed that the traffic was a misconfigured backup job, not an attack"
)
# Every table and every scrolling box that is wider than the box that shows it.
OVERFLOWING = """() => [...document.querySelectorAll('table, .scroll, section, main')]
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
  .map(el => (el.id || el.tagName) + ' ' + el.scrollWidth + '>' + el.clientWidth)
  .concat(document.documentElement.scrollWidth > document.documentElement.clientWidth
    ? ['page ' + document.documentElement.scrollWidth] : [])"""


@pytest.fixture
def console_hub(tmp_path: Path) -> Iterator[tuple[HubProcess, str]]:
    treaty = tmp_path / "treaty.toml"
    text = template_text("nato").replace(
        '{ action = "ban", duration = "1h" }', f'{{ action = "ban", duration = "{RUNG_S}s" }}'
    )
    treaty.write_text(text)
    data = tmp_path / "hub"
    token = cli_json("hub", "init", "--data", str(data), "--treaty", str(treaty))["admin_token"]
    reader = cli_json("viewers", "add", "noc-screen", "--data", str(data))["token"]
    hub = HubProcess(data, free_port(), token, tmp_path / "hub.log")
    hub.start()
    yield hub, reader
    hub.stop()


def _shots() -> Path | None:
    where = os.environ.get("SHIELDWALL_SCREENSHOTS")
    return Path(where) if where else None


def _join(hub: HubProcess, names: tuple[str, ...], first: int) -> list[HubClient]:
    with HubClient(hub.url, admin_token=hub.token) as admin:
        members = []
        for i, name in enumerate(names, first):
            client = HubClient(hub.url, name=name, key=SigningKey.generate())
            client.join([f"192.0.2.{10 + i}", f"2001:db8:{i}::/48"])
            admin.approve(name)
            members.append(client)
    return members


def _alliance(hub: HubProcess) -> int:
    """Two members, reports, a revoked decision, one that will expire, a consultation."""
    admin = HubClient(hub.url, admin_token=hub.token)
    members = _join(hub, ("alpha", "bravo-with-a-long-member-name"), 0)
    for client in members:
        client.submit([{"target": EXPIRING, "scenario": "http-scan", "at": time.time()}])
    for client in members:
        client.submit([{"target": REVOKED, "scenario": "ssh-bruteforce", "at": time.time()}])
    (revoked,) = [d["id"] for d in admin.decisions(ip=REVOKED)["decisions"]]
    # Upheld on appeal: the reporters lose reputation (and, here, their trust).
    admin.revoke(revoked, LONG_REASON, appeal=True)
    members[0].submit([{"target": CONSULTED, "scenario": "http-scan", "at": time.time()}])
    for client in (*members, admin):
        client.close()
    return revoked


def test_views_refuse_strangers(console_hub: tuple[HubProcess, str]) -> None:
    hub, reader = console_hub
    for path in ("/v1/decisions", "/v1/members", "/v1/activity", "/v1/lookup?target=192.0.2.1"):
        anonymous = httpx.get(hub.url + path)
        assert anonymous.status_code == 401, path
        assert "viewers add" in anonymous.json()["error"]["message"]
        assert httpx.get(hub.url + path, headers={"Authorization": f"Bearer {reader}"}).is_success
    page = httpx.get(hub.url + "/")
    assert (
        page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    )
    assert "script-src 'self'" in page.headers["content-security-policy"], "no inline script"
    script = httpx.get(hub.url + "/dashboard.js").text
    assert "innerHTML" not in page.text + script, "hub data is written as text, never as HTML"


def test_console_tells_what_happened(console_hub: tuple[HubProcess, str], tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    hub, reader = console_hub
    revoked = _alliance(hub)
    with HubClient(hub.url, read_token=reader) as viewer:
        wait(
            lambda: any(e["kind"] == "expiry" for e in viewer.get("/v1/activity")["activity"]),
            limit=RUNG_S * 6,
            what="the short decision to expire",
        )
    shots = _shots() or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    origin = urlsplit(hub.url).netloc

    def only_the_hub(route: Any) -> None:
        # The network beyond the hub is cut: the page must need nothing from it.
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            context.route("**/*", only_the_hub)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # No token: the page asks for one, once, and keeps it for the tab.
            page.goto(hub.url + "/")
            page.wait_for_selector("#login.open", timeout=15000)
            page.fill("#login-token", reader)
            page.click("#login button")
            page.wait_for_selector("#activity tbody td:text('expiry')", timeout=15000)
            assert page.locator("#role").inner_text() == "reading as viewer:noc-screen"

            # The activity, newest first: reports, the decision, its revocation, the
            # second decision and its expiry, each with its time.
            rows = page.locator("#activity tbody tr").all_inner_texts()
            kinds = [r.split("\t")[1] for r in reversed(rows)]
            wanted = ["report", "report", "decision", "decision", "revocation", "expiry"]
            assert _in_order(kinds, wanted), kinds
            times = [r.split("\t")[0] for r in reversed(rows)]
            assert all(len(t) == 19 for t in times) and times == sorted(times), times
            page.select_option("#activity-kind", "revocation")
            (only,) = page.locator("#activity tbody tr").all_inner_texts()
            assert LONG_REASON in only, "long values wrap, never cut"
            page.select_option("#activity-kind", "")

            # Look-up: the revoked address, with its history.
            page.fill("#lookup-target", REVOKED)
            page.click("#lookup-form button")
            page.wait_for_selector("#lookup-history tbody td:text('revoked')", timeout=15000)
            answer = page.locator("#lookup-answer").inner_text()
            assert answer.startswith(f"{REVOKED} is not blocked"), answer
            assert str(revoked) in page.locator("#lookup-history").inner_text()

            # Detail of the revoked decision.
            page.locator("#lookup-history tbody a.ref").first.click()
            page.wait_for_selector("#detail.open", timeout=15000)
            detail = page.locator("#detail-body").inner_text()
            for words in ("art5.quorum", "nato@1", "upheld", "alpha", LONG_REASON):
                assert words in detail, words
            assert page.locator("#revoke-form").count() == 0, "a reader cannot revoke"

            # The charts: drawn by the page, a visible bar in every series.
            page.wait_for_selector("#chart-time svg rect", state="attached", timeout=15000)
            series = page.evaluate(
                """() => [...document.querySelectorAll('.chart svg')].map(svg =>
                  [...new Set([...svg.querySelectorAll('rect')]
                    .filter(r => r.getBBox().height > 0).map(r => r.dataset.series))].sort())"""
            )
            assert series[:2] == [["decisions", "signals"], ["signals"]], series
            assert "contribution" in series[2], series

            for width in (1280, 1920, 2560):
                page.set_viewport_size({"width": width, "height": 1000})
                page.wait_for_selector("#decisions tbody td", timeout=15000)
                assert page.evaluate(OVERFLOWING) == [], f"something scrolls sideways at {width}"
                shot = shots / f"console-{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
            assert errors == [], errors

            # The secretariat: the token in the link's fragment, a repeat offender's
            # escalated decision, revoked from its detail view.
            for client in _join(hub, ("charlie", "delta"), 2):
                client.submit([{"target": EXPIRING, "scenario": "http-scan", "at": time.time()}])
                client.close()
            admin = context.new_page()
            admin.on("pageerror", lambda e: errors.append(str(e)))
            admin.goto(f"{hub.url}/#token={hub.token}")
            admin.wait_for_selector("#activity tbody td:text('escalation')", timeout=15000)
            assert "#token" not in admin.url, "the token leaves the address bar"
            assert admin.locator("#role").inner_text() == "reading as secretariat"
            admin.locator("#decisions tbody a.ref").first.click()
            admin.wait_for_selector("#revoke-form", timeout=15000)
            assert "2 of 4" in admin.locator("#detail-body").inner_text(), "the second rung"
            admin.fill("#revoke-form input[type=text]", "the owner proved it was a pentest")
            admin.click("#revoke-form button")
            admin.wait_for_selector("#detail-body dd:text('revoked')", timeout=15000)
            admin.wait_for_selector("#decisions tbody td:text('none')", timeout=15000)
            kinds = [
                r.split("\t")[1] for r in admin.locator("#activity tbody tr").all_inner_texts()
            ]
            assert kinds[0] == "revocation", kinds
            assert _in_order(kinds, ["revocation", "escalation", "report", "report"]), kinds
            assert errors == [], errors
            assert outside == [], "the page asked for something beyond the hub"
        finally:
            browser.close()


def _in_order(seen: list[str], wanted: list[str]) -> bool:
    """Whether ``wanted`` occurs in ``seen`` in this order (other entries between)."""
    it = iter(seen)
    return all(any(k == w for k in it) for w in wanted)
