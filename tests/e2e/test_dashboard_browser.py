"""The hub's dashboard in headless Chromium against a real hub process."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from shieldwall.client import HubClient
from shieldwall.signing import SigningKey
from tests.conftest import CHROMIUM_ARGS, require_tool

from .conftest import HubProcess

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_dashboard_is_served_safely(hub_process: HubProcess) -> None:
    response = httpx.get(hub_process.url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "innerHTML" not in response.text, "hub data is written as text, never as HTML"


def test_dashboard_shows_the_alliance(hub_process: HubProcess, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    hub = hub_process
    admin = HubClient(hub.url, admin_token=hub.token)
    clients = []
    for i, name in enumerate(("alpha", "bravo")):
        client = HubClient(hub.url, name=name, key=SigningKey.generate())
        client.join([f"192.0.2.{10 + i}"])
        admin.approve(name)
        clients.append(client)
    for client in clients:
        client.submit([{"target": "203.0.113.9", "scenario": "ssh-bruteforce", "at": time.time()}])
    clients[0].submit([{"target": "198.51.100.4", "scenario": "http-scan", "at": time.time()}])
    for client in (*clients, admin):
        client.close()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(hub.url + "/")
            page.wait_for_selector("#decisions tbody td:text('203.0.113.9')", timeout=15000)
            assert page.locator("#n-members").inner_text() == "2"
            assert page.locator("#n-decisions").inner_text() == "1"
            assert "alpha, bravo" in page.locator("#decisions").inner_text()
            consultations = page.locator("#consultations").inner_text()
            assert "198.51.100.4" in consultations and "http-scan" in consultations
            assert page.locator("#status").inner_text().startswith("live")
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
