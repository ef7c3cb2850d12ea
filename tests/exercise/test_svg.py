"""The SVG charts: axes that cover the data, legends that fit, text that is escaped."""

from __future__ import annotations

import re

import pytest

from shieldwall.exercise import svg


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        pytest.param(0, 100, [0, 20, 40, 60, 80, 100], id="exact-top"),
        # 172 is above the last multiple of 50 below it: the axis must reach 200.
        pytest.param(0, 172, [0, 50, 100, 150, 200], id="top-above-a-tick"),
        pytest.param(0, 0.3, [0.0, 0.1, 0.2, 0.3], id="fractions"),
        pytest.param(5, 5, [5.0, 5.2, 5.4, 5.6, 5.8, 6.0], id="flat-data"),
    ],
)
def test_ticks_cover_the_data(lo: float, hi: float, ticks: list[float]) -> None:
    assert svg.nice_ticks(lo, hi) == ticks


def points(chart: str) -> list[tuple[float, float]]:
    found = re.search(r'class="series"[^>]* points="([^"]+)"', chart)
    assert found is not None
    return [(float(x), float(y)) for x, y in (p.split(",") for p in found.group(1).split())]


def test_lines_stay_inside_the_plot_area() -> None:
    chart = svg.line_chart("c", "t", "x", "y", [svg.Series("a", [1, 2], [172, 122])])
    for x, y in points(chart):
        assert svg.LEFT <= x <= svg.W - svg.RIGHT
        assert svg.TOP <= y <= svg.H - svg.BOTTOM


def test_sweep_ticks_sit_on_the_swept_values() -> None:
    chart = svg.line_chart(
        "c", "t", "quorum", "y", [svg.Series("a", [1, 2], [3, 4])], x_at=[1.0, 2.0]
    )
    labels = re.findall(r'text-anchor="middle" font-size="11">([^<]*)<', chart)
    assert labels == ["1", "2"]


def test_long_names_are_cut_in_the_legend_and_kept_in_the_tooltip() -> None:
    name = "a-treaty-with-a-very-long-file-name"
    chart = svg.line_chart("c", "t", "x", "y", [svg.Series(name, [0, 1], [0, 1])])
    legend = re.search(r'class="legend"[^>]*><title>([^<]*)</title>([^<]*)</text>', chart)
    assert legend is not None
    assert legend.group(1) == name
    assert len(legend.group(2)) == svg.LEGEND_CHARS and legend.group(2).endswith("\u2026")


def test_reference_line_and_styles() -> None:
    chart = svg.line_chart(
        "c",
        "t",
        "x",
        "y",
        [svg.Series("a", [0, 1], [0, 1]), svg.Series("b", [0, 1], [0, 0.5])],
        reference=svg.Series("equal shares", [0, 100], [0, 100]),
    )
    assert chart.count('class="reference"') == 1
    dashes = re.findall(r'class="series"[^>]*?(stroke-dasharray="[^"]+")?\s*points', chart)
    assert dashes == ["", f'stroke-dasharray="{svg.DASHES[1]}"']


def test_text_is_escaped() -> None:
    chart = svg.line_chart("c", "<b>", "x", "y", [svg.Series("<script>", [0, 1], [0, 1])])
    assert "<script>" not in chart and "&lt;script&gt;" in chart
