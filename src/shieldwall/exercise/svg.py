"""Small, dependency-free SVG charts: line charts and bar charts with titles, axes and units.

Every chart is a self-contained ``<svg>`` string (no scripts, no external fonts); text
is escaped, so treaty names or parameters from the command line cannot inject markup.

A series keeps one :class:`Style` (colour, dash pattern, marker) in every chart of a
report: pass the same ``styles`` (from :func:`styles_for`) to each. Series that lie on
top of each other stay distinguishable: each line is drawn a little wider than the
ones drawn after it, so it shows at their edges, and each carries markers of its own
shape at places of its own (sweeps: at the swept values, moved aside by series).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
# Line styles by series, so that lines lying on top of each other stay distinguishable.
DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 2", "1 4", "12 4")
MARKERS = ("circle", "square", "triangle", "diamond", "down", "cross", "plus")
# The built-in treaties (and the oracle) always look the same, whatever else is compared.
KNOWN = ("unilateral", "nato", "anzus", "un", "league", "oracle")
MARKS_PER_LINE = 6  # markers along a dense line
DODGE = 10.0  # pixels between the markers of series at the same point of a sweep
REFERENCE, REFERENCE_DASH = "#999", "3 3"
LEGEND_CHARS = 20  # longer series names are cut (the full name is the tooltip)
W, H = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 72, 150, 40, 56


@dataclass(frozen=True)
class Series:
    """``key`` names the style (a treaty) when ``name`` says more, e.g. "nato G=0.31"."""

    name: str
    xs: Sequence[float]
    ys: Sequence[float]
    key: str = ""

    @property
    def style_key(self) -> str:
        return self.key or self.name


@dataclass(frozen=True)
class Style:
    colour: str
    dash: str
    marker: str


def styles_for(names: Sequence[str]) -> dict[str, Style]:
    """One style per name: the built-in treaties their own, the others the rest in order."""
    out = {
        n: Style(
            PALETTE[KNOWN.index(n) % len(PALETTE)], DASHES[KNOWN.index(n)], MARKERS[KNOWN.index(n)]
        )
        for n in names
        if n in KNOWN
    }
    used = {KNOWN.index(n) for n in out}
    free = [i for i in range(len(PALETTE)) if i not in used] or list(range(len(PALETTE)))
    for j, n in enumerate(n for n in dict.fromkeys(names) if n not in out):
        i = free[j % len(free)]
        out[n] = Style(PALETTE[i], DASHES[i % len(DASHES)], MARKERS[i % len(MARKERS)])
    return out


def marker(shape: str, x: float, y: float, colour: str, size: float = 4.5) -> str:
    """One marker centred on (x, y), outlined in white so it stands out on a line."""
    r = size
    common = f'fill="{colour}" stroke="#fff" stroke-width="1"'
    if shape == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {common}/>'
    if shape in ("triangle", "down"):
        s = 1 if shape == "triangle" else -1
        pts = f"{x:.1f},{y - s * r * 1.2:.1f} {x - r * 1.1:.1f},{y + s * r * 0.8:.1f} {x + r * 1.1:.1f},{y + s * r * 0.8:.1f}"
        return f'<polygon points="{pts}" {common}/>'
    if shape == "diamond":
        pts = f"{x:.1f},{y - r * 1.3:.1f} {x + r:.1f},{y:.1f} {x:.1f},{y + r * 1.3:.1f} {x - r:.1f},{y:.1f}"
        return f'<polygon points="{pts}" {common}/>'
    if shape in ("cross", "plus"):
        d = r * (0.8 if shape == "cross" else 1.1)
        lines = (
            [(-d, -d, d, d), (-d, d, d, -d)] if shape == "cross" else [(-d, 0, d, 0), (0, -d, 0, d)]
        )
        return "".join(
            f'<line x1="{x + a:.1f}" y1="{y + b:.1f}" x2="{x + c:.1f}" y2="{y + e:.1f}" '
            f'stroke="{colour}" stroke-width="2.5"/>'
            for a, b, c, e in lines
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {common}/>'


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = [round(start, 10)]
    while ticks[-1] < hi - step * 1e-9:  # the last tick is at or above hi
        ticks.append(round(start + len(ticks) * step, 10))
    return ticks


def fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _frame(title: str, xlabel: str, ylabel: str, chart_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>',
        f'<text class="chart-title" x="{W / 2 - RIGHT / 2}" y="22" text-anchor="middle" '
        f'font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<text class="x-label" x="{LEFT + (W - LEFT - RIGHT) / 2}" y="{H - 12}" '
        f'text-anchor="middle" font-size="12">{escape(xlabel)}</text>',
        f'<text class="y-label" x="16" y="{TOP + (H - TOP - BOTTOM) / 2}" '
        f'text-anchor="middle" font-size="12" transform="rotate(-90 16 '
        f'{TOP + (H - TOP - BOTTOM) / 2})">{escape(ylabel)}</text>',
    ]


def _axes(x_ticks: list[tuple[float, str]], y_ticks: list[tuple[float, str]]) -> list[str]:
    x0, x1, y0, y1 = LEFT, W - RIGHT, H - BOTTOM, TOP
    out = [
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>',
    ]
    for px, label in x_ticks:
        out.append(f'<line x1="{px:.1f}" y1="{y0}" x2="{px:.1f}" y2="{y0 + 5}" stroke="#333"/>')
        out.append(
            f'<text x="{px:.1f}" y="{y0 + 18}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    for py, label in y_ticks:
        out.append(f'<line x1="{x0}" y1="{py:.1f}" x2="{x1}" y2="{py:.1f}" stroke="#eee"/>')
        out.append(
            f'<text x="{x0 - 6}" y="{py + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(label)}</text>"
        )
    return out


def _style(i: int) -> tuple[str, str]:
    """Colour and dash pattern of series ``i``."""
    return PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)]


def _dashed(dash: str) -> str:
    """The ``stroke-dasharray`` attribute of a dash pattern ("" for a solid line)."""
    return f' stroke-dasharray="{dash}"' if dash else ""


def _legend(
    entries: Sequence[tuple[str, str, str]], lines: bool = False, marks: Sequence[str] = ()
) -> list[str]:
    """One entry per (name, colour, dash): a line in that style (with the series' marker
    from ``marks``), or a square for bars."""
    out = []
    x = W - RIGHT + 14
    for i, (name, color, dash) in enumerate(entries):
        y = TOP + 10 + i * 18
        if lines:
            out.append(
                f'<line x1="{x - 2}" y1="{y - 3}" x2="{x + 16}" y2="{y - 3}" stroke="{color}" '
                f'stroke-width="2"{_dashed(dash)}/>'
            )
            if i < len(marks) and marks[i]:
                out.append(marker(marks[i], x + 7, y - 3, color, 3.5))
        else:
            out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="12" fill="{color}"/>')
        shown = name if len(name) <= LEGEND_CHARS else name[: LEGEND_CHARS - 1] + "\u2026"
        out.append(
            f'<text class="legend" x="{x + 20}" y="{y + 1}" font-size="12">'
            f"<title>{escape(name)}</title>{escape(shown)}</text>"
        )
    return out


def line_chart(
    chart_id: str,
    title: str,
    xlabel: str,
    ylabel: str,
    series: Sequence[Series],
    *,
    log_x: bool = False,
    step: bool = False,
    reference: Series | None = None,
    x_at: Sequence[float] | None = None,
    x_range: tuple[float, float] | None = None,
    styles: Mapping[str, Style] | None = None,
) -> str:
    """Lines (or steps) per series; ``log_x`` uses a base-10 x axis (values <= 0 dropped).

    Each series has its own colour, dash pattern and marker (``styles`` by
    :attr:`Series.style_key`, else by position). ``reference`` (e.g. the line of
    equal shares) is drawn thin, dashed and grey, under the series. ``x_at`` puts the
    x ticks at those values (e.g. the points of a sweep) instead of round numbers;
    ``x_range`` makes the x axis span exactly that range (e.g. the campaign), points
    outside it left out.
    """

    def tx(v: float) -> float:
        return math.log10(v) if log_x else v

    every = [*series, *([reference] if reference else [])]
    pts = [
        (tx(x), y)
        for s in every
        for x, y in zip(s.xs, s.ys, strict=True)
        if math.isfinite(y) and (not log_x or x > 0)
    ]
    xs = [p[0] for p in pts] or [0.0, 1.0]
    ys = [p[1] for p in pts] or [0.0, 1.0]
    if log_x:
        x_vals = [float(v) for v in range(math.floor(min(xs)), math.ceil(max(xs)) + 1)]
        if len(x_vals) < 2:
            x_vals.append(x_vals[0] + 1)
    elif x_at is not None and len(x_at) >= 2:
        x_vals = sorted(float(v) for v in x_at)
    elif x_range is not None and x_range[1] > x_range[0]:
        lo, hi = x_range
        x_vals = [v for v in nice_ticks(lo, hi, 6) if lo <= v <= hi]
        x_vals = sorted({lo, *x_vals, hi})
        if len(x_vals) > 2 and (x_vals[-1] - x_vals[-2]) < (hi - lo) / 12:
            del x_vals[-2]  # a tick crowding the end of the range
    else:
        x_vals = nice_ticks(min(xs), max(xs))
    y_vals = nice_ticks(min(0.0, min(ys)), max(ys))
    xlo, xhi, ylo, yhi = x_vals[0], x_vals[-1], y_vals[0], y_vals[-1]

    # Sweeps put markers side by side at each point: leave room for them at the ends,
    # and above the x axis for values of zero.
    sparse = x_at is not None or all(len(s.xs) <= 12 for s in series)
    padx = (max(len(series) - 1, 0) / 2 * DODGE + 6.0) if sparse else 0.0
    pady = 6.0

    def px(v: float) -> float:
        return LEFT + padx + (v - xlo) / ((xhi - xlo) or 1) * (W - LEFT - RIGHT - 2 * padx)

    def py(v: float) -> float:
        return H - BOTTOM - pady - (v - ylo) / ((yhi - ylo) or 1) * (H - TOP - BOTTOM - pady)

    x_ticks = [(px(v), fmt(10**v) if log_x else fmt(v)) for v in x_vals]
    y_ticks = [(py(v), fmt(v)) for v in y_vals]

    def pixels(s: Series) -> list[tuple[float, float]]:
        coords: list[tuple[float, float]] = []
        prev_y: float | None = None
        for x, y in zip(s.xs, s.ys, strict=True):
            if not math.isfinite(y) or (log_x and x <= 0) or not xlo <= tx(x) <= xhi:
                continue
            X, Y = px(tx(x)), py(y)
            if step and prev_y is not None:
                coords.append((X, prev_y))
            coords.append((X, Y))
            prev_y = Y
        if len(coords) == 1:
            coords.append(coords[0])
        return coords

    def points(s: Series) -> str:
        return " ".join(f"{X:.1f},{Y:.1f}" for X, Y in pixels(s))

    out = _frame(title, xlabel, ylabel, chart_id) + _axes(x_ticks, y_ticks)
    entries: list[tuple[str, str, str]] = []
    if reference is not None:
        entries.append((reference.name, REFERENCE, REFERENCE_DASH))
        out.append(
            f'<polyline class="reference" fill="none" stroke="{REFERENCE}" stroke-width="1"'
            f'{_dashed(REFERENCE_DASH)} points="{points(reference)}"/>'
        )
    n = len(series)
    looks = [_look(s, i, styles) for i, s in enumerate(series)]
    marks_on: list[str] = []
    for i, (s, look) in enumerate(zip(series, looks, strict=True)):
        entries.append((s.name, look.colour, look.dash))
        coords = points(s)
        # Each line a little wider than the ones drawn after it: it shows at their edges.
        width = 2.0 + 2.0 * (n - 1 - i) / max(n - 1, 1)
        if coords:
            out.append(
                f'<polyline class="series" data-series="{escape(s.name)}" '
                f'data-key="{escape(s.style_key)}" fill="none" '
                f'stroke="{look.colour}" stroke-width="{width:g}"{_dashed(look.dash)} '
                f'points="{coords}"/>'
            )
    for i, (s, look) in enumerate(zip(series, looks, strict=True)):
        line = pixels(s)
        if not line:
            continue
        if sparse:
            dodge = (i - (n - 1) / 2) * DODGE  # series at the same point side by side
            spots = [(X + dodge, Y) for X, Y in dict.fromkeys(line)]
        else:
            x0, x1 = px(xlo), px(xhi)
            spots = [
                (X, _height_at(line, X))
                for k in range(MARKS_PER_LINE)
                if line[0][0]
                <= (X := x0 + (k + (i + 0.5) / n) / MARKS_PER_LINE * (x1 - x0))
                <= line[-1][0]
            ]
        marks_on.append(
            f'<g class="marks" data-series="{escape(s.name)}" data-key="{escape(s.style_key)}">'
            + "".join(marker(look.marker, X, Y, look.colour) for X, Y in spots)
            + "</g>"
        )
    out += marks_on
    out += _legend(entries, lines=True, marks=["", *(m.marker for m in looks)][-len(entries) :])
    out.append("</svg>")
    return "\n".join(out)


def _look(s: Series, i: int, styles: Mapping[str, Style] | None) -> Style:
    if styles is not None and s.style_key in styles:
        return styles[s.style_key]
    colour, dash = _style(i)
    return Style(colour, dash, MARKERS[i % len(MARKERS)])


def _height_at(line: Sequence[tuple[float, float]], X: float) -> float:
    """The y pixel of a polyline at x pixel ``X`` (its x never decreases)."""
    for (xa, ya), (xb, yb) in itertools.pairwise(line):
        if xa <= X <= xb:
            return ya if xb == xa else ya + (yb - ya) * (X - xa) / (xb - xa)
    return line[-1][1]


def bar_chart(
    chart_id: str,
    title: str,
    xlabel: str,
    ylabel: str,
    categories: Sequence[str],
    groups: Sequence[Series],
    styles: Mapping[str, Style] | None = None,
) -> str:
    """Grouped bars: one group per category, one bar per series (``ys`` per category)."""
    values = [y for g in groups for y in g.ys if math.isfinite(y)] or [0.0]
    y_vals = nice_ticks(0.0, max(max(values), 1e-9))
    ylo, yhi = y_vals[0], y_vals[-1]
    n_cat = max(len(categories), 1)
    band = (W - LEFT - RIGHT) / n_cat
    bar = band * 0.8 / max(len(groups), 1)

    def py(v: float) -> float:
        return H - BOTTOM - (v - ylo) / ((yhi - ylo) or 1) * (H - TOP - BOTTOM)

    # Thin out category labels when there are many.
    every = max(1, math.ceil(n_cat / 12))
    x_ticks = [
        (LEFT + band * (i + 0.5), c if i % every == 0 else "") for i, c in enumerate(categories)
    ]
    out = _frame(title, xlabel, ylabel, chart_id) + _axes(
        x_ticks, [(py(v), fmt(v)) for v in y_vals]
    )
    for j, g in enumerate(groups):
        color = _look(g, j, styles).colour
        for i, y in enumerate(g.ys):
            if not math.isfinite(y):
                continue
            x = LEFT + band * i + band * 0.1 + bar * j
            top = py(max(y, 0.0))
            height = max(py(0.0) - top, 0.0)
            out.append(
                f'<rect class="bar" data-series="{escape(g.name)}" '
                f'data-key="{escape(g.style_key)}" x="{x:.1f}" y="{top:.1f}" '
                f'width="{max(bar - 1, 1):.1f}" height="{max(height, 0.5):.1f}" fill="{color}">'
                f"<title>{escape(g.name)} {escape(categories[i])}: {y:g}</title></rect>"
            )
    out += _legend([(g.name, _look(g, j, styles).colour, "") for j, g in enumerate(groups)])
    out.append("</svg>")
    return "\n".join(out)
