"""Line charts as hand-written SVG: no plotting dependency, deterministic bytes, opens in any
browser. matplotlib would draw nicer axes, but a report folder must be writable on a server
with only the core install, and the charts here are a few lines over a few weeks.

>>> from datetime import datetime, UTC
>>> from hub.reports.timeseries import Series
>>> s = Series("engine", [datetime(2025, 1, 6, tzinfo=UTC), datetime(2025, 1, 13, tzinfo=UTC)], [0.0, 0.5])
>>> svg = line_chart([s], title="Opportunity rate", y_label="per contact")
>>> svg.startswith("<svg") and "engine" in svg and "<polyline" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from hub.reports.timeseries import Series

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")
W, H = 720, 360
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 40, 50
LABEL_GAP = 80  # px between date labels on an axis


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return f"{v:.3g}"


def day(d: date) -> str:
    """A date on every chart's axis: ``2026-03-04`` (the bars per day wrote ``03-04``)."""
    return d.strftime("%Y-%m-%d")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int(math.ceil((hi - start) / step)) + 1)]


def line_chart(series: Sequence[Series], *, title: str, y_label: str) -> str:
    """One SVG document with a line per series over shared dates."""
    xs = sorted({x for s in series for x in s.x})
    ys = [y for s in series for y in s.y if math.isfinite(y)]
    ticks = _ticks(min([0.0, *ys]), max([0.0, *ys]) if ys else 1.0)
    y0, y1 = ticks[0], ticks[-1]
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    span = (xs[-1] - xs[0]).total_seconds() if xs else 0.0
    # a time axis: a point sits where its date falls, so an unfinished last week is drawn short
    xpos = {x: LEFT + (pw * (x - xs[0]).total_seconds() / span if span > 0 else 0.0) for x in xs}

    def ypos(v: float) -> float:
        return TOP + ph * (1 - (v - y0) / (y1 - y0))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2:.0f}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<text x="16" y="{TOP + ph / 2:.0f}" transform="rotate(-90 16 {TOP + ph / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>',
    ]
    for t in ticks:
        y = ypos(t)
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    shown, at = "", -math.inf
    for x in xs:  # a date label is ~70 px wide: one per date, LABEL_GAP px apart at least
        label = day(x)
        if label != shown and xpos[x] - at >= LABEL_GAP:
            out.append(f'<text x="{xpos[x]:.1f}" y="{TOP + ph + 18}" text-anchor="middle">{label}</text>')
            shown, at = label, xpos[x]
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{xpos[x]:.1f},{ypos(y):.1f}" for x, y in zip(s.x, s.y, strict=True) if math.isfinite(y))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        ly = TOP + 14 + 18 * k
        out.append(
            f'<line x1="{LEFT + pw + 12}" x2="{LEFT + pw + 32}" y1="{ly}" y2="{ly}" stroke="{color}" stroke-width="3"/>'
        )
        out.append(f'<text x="{LEFT + pw + 38}" y="{ly + 4}">{escape(s.name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
