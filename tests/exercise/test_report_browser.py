"""The HTML report rendered in headless Chromium: plots drawn, titled and labelled.

Each chart is screenshotted on its own and the coloured pixels inside its plot area
(axes, grid and the grey reference line are not coloured; the legend lies outside)
are counted in the page with a canvas: a chart whose lines or bars did not render
fails, whatever the markup says.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from shieldwall.exercise import svg
from shieldwall.exercise.campaign import CampaignParams
from shieldwall.exercise.headline import headline
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
    "absorbed-by-kind": ("Absorbed events by attacker kind", "attacker kind", "count"),
}
TREATIES = ["unilateral", "nato", "anzus", "un", "league"]
CONFIG = Config(members=30, seed=2, campaign=CampaignParams(events=8000, sources=200))

# The plot area of a chart's screenshot (``box`` in SVG units, scaled to the picture):
# how many pixels are coloured at all, and how many are close to each of ``colours``.
COLOURED = """async ([src, box, width, colours]) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = img.width;
    canvas.height = img.height;
    const g = canvas.getContext("2d");
    g.drawImage(img, 0, 0);
    const k = img.width / width;
    const [x0, y0, x1, y1] = box.map(v => Math.round(v * k));
    const d = g.getImageData(x0, y0, x1 - x0, y1 - y0).data;
    const rgb = colours.map(c => [1, 3, 5].map(i => parseInt(c.slice(i, i + 2), 16)));
    const near = rgb.map(() => 0);
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
        rgb.forEach((c, j) => {
            if (Math.abs(d[i] - c[0]) + Math.abs(d[i + 1] - c[1]) + Math.abs(d[i + 2] - c[2]) < 24) near[j]++;
        });
    }
    return [n, near];
}"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run with quorum and rogue sweeps, and a default run (headline, no sweep)."""
    world, results = compare(CONFIG, TREATIES)
    sweeps = [sweep(CONFIG, TREATIES, "quorum", [1, 2]), sweep(CONFIG, TREATIES, "rogue", [0, 2])]
    folder = tmp_path_factory.mktemp("report")
    swept = folder / "swept.html"
    swept.write_text(render(results_document(CONFIG, world, results, sweeps)), "utf-8")
    default = results_document(CONFIG, world, results, [])
    default["headline"] = headline(CONFIG, TREATIES, world)
    plain = folder / "default.html"
    plain.write_text(render(default), "utf-8")
    return {"swept": swept, "default": plain}


def pixels(page: Any, png: bytes, colours: list[str] = []) -> tuple[int, list[int]]:  # noqa: B006
    """Coloured pixels inside the plot area of a chart's screenshot, and how many are
    (nearly) each of ``colours`` ("#rrggbb")."""
    box = [svg.LEFT + 1, svg.TOP, svg.W - svg.RIGHT, svg.H - svg.BOTTOM - 1]
    src = "data:image/png;base64," + base64.b64encode(png).decode()
    n, near = page.evaluate(COLOURED, [src, box, svg.W, colours])
    return int(n), [int(x) for x in near]


def coloured_pixels(page: Any, png: bytes) -> int:
    return pixels(page, png)[0]


@pytest.mark.browser
@pytest.mark.parametrize(
    ("which", "charts"),
    [
        pytest.param("swept", list(CHARTS), id="with-sweeps"),
        # Without sweeps the quorum plot comes from the headline rogue probe (quorum 1
        # and 2); the rogue sweep is a note saying how to get it.
        pytest.param(
            "default", [c for c in CHARTS if c != "sweep-rogue"], id="default-run-headline"
        ),
    ],
)
def test_report_renders_plots_in_chromium(
    reports: dict[str, Path], which: str, charts: list[str], tmp_path: Path
) -> None:
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(reports[which].as_uri())
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            assert sorted(page.eval_on_selector_all("svg.chart", "els => els.map(e => e.id)")) == (
                sorted(charts)
            )
            for chart_id in charts:
                title, xunit, yunit = CHARTS[chart_id]
                chart = page.locator(f"svg#{chart_id}")
                box = chart.bounding_box()
                assert box is not None and box["width"] >= svg.W - 1, chart_id
                assert title in (chart.locator(".chart-title").text_content() or "")
                assert xunit in (chart.locator(".x-label").text_content() or "")
                assert yunit in (chart.locator(".y-label").text_content() or "")
                legend = chart.locator(".legend")
                probe_only = which == "default" and chart_id == "sweep-quorum"
                assert legend.count() >= (1 if probe_only else len(TREATIES)), chart_id
                for i in range(legend.count()):  # no legend entry runs off the chart
                    entry = legend.nth(i).bounding_box()
                    assert (
                        entry is not None and entry["x"] + entry["width"] <= box["x"] + box["width"]
                    ), (chart_id, legend.nth(i).text_content())
                drawn = coloured_pixels(page, chart.screenshot())
                assert drawn > 300, (chart_id, drawn)
            if which == "default":
                assert page.locator("#missing-rogue").count() == 1
                assert "headline rogue probe" in (
                    page.locator("svg#sweep-quorum >> xpath=..").text_content() or ""
                )
            overflow = page.eval_on_selector_all(
                ".wide", "els => els.filter(e => e.scrollWidth > e.clientWidth).length"
            )
            assert overflow == 0  # every table fits the page
            assert [u for u in requests if not u.startswith(("file://", "data:"))] == []
        finally:
            browser.close()


# The treaty of each drawn series and its colour, in every chart.
DRAWN = """() => [...document.querySelectorAll('svg.chart')].map(chart => [chart.id,
    [...chart.querySelectorAll('polyline.series[data-key], rect.bar[data-key]')].map(el =>
        [el.dataset.key, el.getAttribute('stroke') || el.getAttribute('fill'),
         el.getBBox().width > 0 || el.getBBox().height > 0])])"""


@pytest.mark.browser
def test_every_treaty_keeps_its_colour_and_shows_in_every_plot(
    reports: dict[str, Path],
) -> None:
    """One colour per treaty across the plots, and in each plot every series has pixels
    of its own colour in the plot area: none hides entirely behind another (cumulative
    lines of treaties that absorb alike, sweeps where two treaties give the same)."""
    chromium = require_tool("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(reports["swept"].as_uri())
            drawn: list[tuple[str, list[tuple[str, str, bool]]]] = page.evaluate(DRAWN)
            colour_of: dict[str, set[str]] = {}
            for _, series in drawn:
                for key, colour, _ in series:
                    colour_of.setdefault(key, set()).add(colour)
            assert {k: len(c) for k, c in colour_of.items()} == dict.fromkeys(colour_of, 1)
            assert set(TREATIES) <= set(colour_of), colour_of
            colours = {k: next(iter(c)) for k, c in colour_of.items()}
            assert len(set(colours.values())) == len(colours), "two treaties share a colour"
            for chart_id, series in drawn:
                keys = sorted({k for k, _, shown in series if shown})
                png = page.locator(f"svg#{chart_id}").screenshot()
                _, near = pixels(page, png, [colours[k] for k in keys])
                hidden = [k for k, n in zip(keys, near, strict=True) if n < 20]
                assert hidden == [], (chart_id, dict(zip(keys, near, strict=True)))
            text_width = page.evaluate(
                """() => { const s = getComputedStyle(document.body);
                  return document.body.clientWidth - parseFloat(s.paddingLeft)
                    - parseFloat(s.paddingRight); }"""
            )
            for chart_id, _ in drawn:  # plots use the page's width
                box = page.locator(f"svg#{chart_id}").bounding_box()
                assert box is not None and box["width"] >= text_width - 1, chart_id
        finally:
            browser.close()
