"""The HTML report rendered in headless Chromium: plots drawn, titled and labelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.exercise.campaign import CampaignParams
from shieldwall.exercise.report_html import render
from shieldwall.exercise.sweep import compare, results_document, sweep
from shieldwall.exercise.world import Config
from tests.conftest import CHROMIUM_ARGS, require_tool

CHARTS = {
    "cumulative-absorbed": ("Cumulative absorbed attack events", "hours", "count"),
    "protection-delay": ("Protection delay distribution", "seconds", "%"),
    "sweep-quorum": ("False bans against quorum", "quorum", "decisions"),
    "sweep-rogue": ("Rogue-member sweep", "rogue members", "user-hours"),
    "contribution-shares": ("Contribution shares", "members", "%"),
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = Config(members=30, seed=2, campaign=CampaignParams(events=8000, sources=200))
    treaties = ["unilateral", "nato", "league"]
    world, results = compare(cfg, treaties)
    sweeps = [sweep(cfg, treaties, "quorum", [1, 2]), sweep(cfg, treaties, "rogue", [0, 2])]
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(results_document(cfg, world, results, sweeps)), "utf-8")
    return path


@pytest.mark.browser
def test_report_renders_plots_in_chromium(report: Path, tmp_path: Path) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri())
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            for chart_id, (title, xunit, yunit) in CHARTS.items():
                svg = page.locator(f"svg#{chart_id}")
                box = svg.bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100, chart_id
                assert title in (svg.locator(".chart-title").text_content() or "")
                assert xunit in (svg.locator(".x-label").text_content() or "")
                assert yunit in (svg.locator(".y-label").text_content() or "")
                marks = svg.locator("polyline.series, rect.bar")
                assert marks.count() >= 1, chart_id
                drawn = [marks.nth(i).bounding_box() for i in range(marks.count())]
                assert any(b is not None and (b["width"] > 0 or b["height"] > 0) for b in drawn), (
                    chart_id
                )
            assert [u for u in requests if not u.startswith("file://")] == []
        finally:
            browser.close()
