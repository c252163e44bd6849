"""The console's chart of verifications per day by outcome, drawn on the server as inline SVG (no script, no CDN).

Only SVG presentation attributes are used (no ``style``), so the strict Content-Security-Policy holds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from markupsafe import Markup, escape

COLOURS = {"verified": "#2e7d32", "altered": "#e65100", "failed": "#c62828"}
WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 14, 40


def _nice_step(peak: int) -> int:
    """A round gridline step giving 2-5 lines up to ``peak``."""
    if peak <= 4:
        return 1
    raw = peak / 4
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * power:
            return max(1, int(mult * power))
    return int(10 * power)


def daily_chart(counts: Mapping[dt.date, Mapping[str, int]], start: dt.date, end: dt.date,
                labels: Mapping[str, str], title: str, bar_title: str) -> Markup:
    """Stacked bars, one per day from ``start`` to ``end``; ``labels`` names the outcomes in the page's language.

    ``bar_title`` is a format string with {day}, {verified}, {altered} and {failed} (each bar's tooltip).
    """
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    totals = [sum(counts.get(d, {}).values()) for d in days]
    peak = max(totals, default=0)
    step = _nice_step(peak)
    top = max(step, math.ceil(peak / step) * step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar_w = max(1.0, slot * 0.72)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="audit-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="100%" role="img" aria-labelledby="chart-title" font-family="sans-serif" font-size="11">',
           f'<title id="chart-title">{escape(title)}</title>']
    for value in range(0, top + 1, step):
        y = TOP + plot_h - plot_h * value / top
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#d0d4da" '
                   f'stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{value}</text>')
    label_every = max(1, math.ceil(len(days) / 12))
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = TOP + plot_h
        day_counts = counts.get(day, {})
        tip = bar_title.format(day=day.isoformat(), **{k: day_counts.get(k, 0) for k in COLOURS})
        out.append(f"<g><title>{escape(tip)}</title>")
        for outcome, colour in COLOURS.items():
            n = day_counts.get(outcome, 0)
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}"/>')
        # An invisible full-height target, so that empty days also show their tooltip.
        out.append(f'<rect x="{LEFT + i * slot:.1f}" y="{TOP}" width="{slot:.1f}" height="{plot_h}" '
                   f'fill="transparent"/></g>')
        if i % label_every == 0:
            out.append(f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
                       f'fill="#444">{day:%m-%d}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" stroke="#555"/>')
    x = LEFT
    for outcome, colour in COLOURS.items():
        out.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{HEIGHT - 5}" fill="#222">{escape(labels[outcome])}</text>')
        x += 120
    out.append("</svg>")
    return Markup("".join(out))
