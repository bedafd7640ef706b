"""Two small SVG charts the console needs beside hub/reports/svg.py's line chart: bars per day
and differences with their intervals. Server-rendered, no script, escaped labels.

>>> from datetime import date
>>> "<rect" in bar_chart([date(2026, 1, 1), date(2026, 1, 2)], [50.0, float("nan")], title="t", y_label="%")
True
>>> "engine" in interval_chart([("engine", 1.0, 0.2, 1.8)], title="lift")
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from hub.reports.numbers import estimate
from hub.reports.svg import LABEL_GAP, _fmt, _ticks, day

W, H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 36, 40


def _head(w: int, h: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{escape(title)}">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<text x="{w / 2:.0f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]


def bar_chart(days: Sequence[date], values: Sequence[float], *, title: str, y_label: str) -> str:
    """One bar per day, dated as the line charts date their points; NaN leaves a gap (no data that day)."""
    finite = [v for v in values if math.isfinite(v)]
    ticks = _ticks(min([0.0, *finite]), max([1.0, *finite]))
    y0, y1 = ticks[0], ticks[-1]
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = pw / max(len(values), 1)
    out = _head(W, H, title)
    out.append(
        f'<text x="14" y="{TOP + ph / 2:.0f}" transform="rotate(-90 14 {TOP + ph / 2:.0f})" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    for t in ticks:
        y = TOP + ph * (1 - (t - y0) / (y1 - y0))
        out.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    every = math.ceil(LABEL_GAP / step)
    for i, (d, v) in enumerate(zip(days, values, strict=True)):
        x, label = LEFT + i * step, day(d)
        if math.isfinite(v):
            top = TOP + ph * (1 - (v - y0) / (y1 - y0))
            base = TOP + ph * (1 - (0 - y0) / (y1 - y0))
            out.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{min(top, base):.1f}" width="{step * 0.7:.1f}" '
                f'height="{abs(base - top):.1f}" fill="#1f77b4"><title>{escape(label)}: {_fmt(v)}</title></rect>'
            )
        if i % every == 0:
            out.append(f'<text x="{x + step / 2:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{escape(label)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def interval_chart(rows: Sequence[tuple[str, float, float, float]], *, title: str) -> str:
    """``(label, estimate, low, high)`` per row as a dot with its interval, zero marked."""
    finite = [v for _, d, lo, hi in rows for v in (d, lo, hi) if math.isfinite(v)]
    ticks = _ticks(min([0.0, *finite]), max([0.0, *finite]) if finite else 1.0)
    x0, x1 = ticks[0], ticks[-1]
    left = 140
    h = TOP + BOTTOM + 34 * max(len(rows), 1)
    pw, ph = W - left - RIGHT, h - TOP - BOTTOM

    def xpos(v: float) -> float:
        return left + pw * (v - x0) / (x1 - x0)

    out = _head(W, h, title)
    for t in ticks:
        out.append(f'<line x1="{xpos(t):.1f}" x2="{xpos(t):.1f}" y1="{TOP}" y2="{TOP + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{xpos(t):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<line x1="{xpos(0):.1f}" x2="{xpos(0):.1f}" y1="{TOP}" y2="{TOP + ph}" stroke="#444"/>')
    for i, (label, d, lo, hi) in enumerate(rows):
        y = TOP + 17 + 34 * i
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{escape(label)}</text>')
        if not all(math.isfinite(v) for v in (d, lo, hi)):
            out.append(f'<text x="{left + 4}" y="{y + 4}" fill="#6b7480">no data</text>')
            continue
        color = "#1e7b34" if lo > 0 else "#b3261e" if hi < 0 else "#1f77b4"
        out.append(
            f'<line x1="{xpos(lo):.1f}" x2="{xpos(hi):.1f}" y1="{y}" y2="{y}" stroke="{color}" stroke-width="3"/>'
        )
        out.append(
            f'<circle cx="{xpos(d):.1f}" cy="{y}" r="5" fill="{color}"><title>{escape(label)}: '
            f"{estimate(d, lo, hi)}</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
