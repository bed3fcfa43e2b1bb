"""Bar and line charts as SVG text, drawn on the server (pure: no Flask, no I/O).

The portal's CSP forbids inline styles, so nothing here writes a `style` attribute: colours
come from classes (`chart-series-0`, ...) in portal.css, sizes from presentation attributes.
Every text a reader supplied (labels, series names, the title) is escaped; the chart carries a
<title> and <desc> for screen readers, and each bar or point its own <title> ("label: value").
The page shows the same figures in a table beside the chart, so nothing is only in a picture.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from html import escape
from typing import Callable, Sequence

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 64  # room for the value axis and slanted category labels
SERIES_CLASSES = 6  # chart-series-0 .. chart-series-5 in portal.css, reused in turn


@dataclass(frozen=True)
class Series:
    """One named row of values, one per category (None: no value for that category)."""

    name: str
    values: Sequence[float | None]


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float) -> str:
    """A coordinate with at most two decimals (short, stable output)."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def nice_top(largest: float) -> float:
    """The top of the value axis: 1, 2, 2.5 or 5 times a power of ten at or above `largest` (1 when nothing)."""
    if largest <= 0 or math.isnan(largest):
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= largest:
            return step * power
    return 10 * power  # not reached: 10 * power >= largest always


def count_top(largest: float) -> int:
    """The top of a counting axis: four equal whole steps at or above `largest` (4 when nothing), so
    every grid line is a whole number of tickets."""
    return 4 * max(1, math.ceil(max(largest, 0) / 4))


def _top(series: Sequence[Series], top: float | None, counts: bool) -> float:
    if top is not None:
        return top
    largest = max((v for s in series for v in s.values if v is not None), default=0)
    return count_top(largest) if counts else nice_top(largest)


def _frame(title: str, description: str, height: int, body: list[str], legend: Sequence[Series],
           chart_id: str) -> str:
    # Ids tie the <title>/<desc> to the chart; derived from the title unless given, so output is stable.
    n = chart_id or "chart-" + hashlib.sha1(title.encode()).hexdigest()[:8]
    title_id, desc_id = f"{_text(n)}-title", f"{_text(n)}-desc"
    parts = [f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="{title_id} {desc_id}" preserveAspectRatio="xMidYMid meet">',
             f'<title id="{title_id}">{_text(title)}</title>', f'<desc id="{desc_id}">{_text(description)}</desc>']
    parts += body
    if len(legend) > 1:
        x = LEFT
        for i, series in enumerate(legend):
            parts.append(f'<rect class="chart-series-{i % SERIES_CLASSES}" x="{x}" y="{height - 14}" width="10" '
                         f'height="10"/><text class="chart-legend" x="{x + 14}" y="{height - 5}">'
                         f'{_text(series.name)}</text>')
            x += 24 + 7 * len(series.name)
    parts.append("</svg>")
    return "".join(parts)


def _axis(top: float, plot_height: int, fmt: Callable[[float], str]) -> list[str]:
    """Horizontal grid lines with their values, at 0, 1/4, ... of `top`."""
    parts = []
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_height - plot_height * i / 4
        parts.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_number(y)}" '
                     f'y2="{_number(y)}"/><text class="chart-axis" x="{LEFT - 6}" y="{_number(y + 4)}" '
                     f'text-anchor="end">{_text(fmt(value))}</text>')
    return parts


def _category_label(x: float, baseline: float, label: str) -> str:
    short = label if len(label) <= 14 else label[:13] + "…"
    return (f'<text class="chart-label" x="{_number(x)}" y="{_number(baseline + 14)}" text-anchor="end" '
            f'transform="rotate(-30 {_number(x)} {_number(baseline + 14)})">{_text(short)}</text>')


def _default_format(value: float) -> str:
    return _number(value)


def bar_chart(title: str, categories: Sequence[str], series: Sequence[Series], *, description: str = "",
              value_format: Callable[[float], str] = _default_format, top: float | None = None,
              chart_id: str = "", counts: bool = False) -> str:
    """Grouped vertical bars: one group per category, one bar per series, as an <svg> element's text.
    `counts`: the values are counts, the axis shows whole numbers only."""
    height = HEIGHT + (16 if len(series) > 1 else 0)
    plot_height = HEIGHT - TOP - BOTTOM
    top = _top(series, top, counts)
    body = _axis(top, plot_height, value_format)
    baseline = TOP + plot_height
    group = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    bar = group * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = LEFT + group * c + group * 0.1
        for s, one in enumerate(series):
            value = one.values[c] if c < len(one.values) else None
            if value is None:
                continue
            h = plot_height * min(max(value, 0) / top, 1)
            body.append(f'<rect class="chart-bar chart-series-{s % SERIES_CLASSES}" x="{_number(x0 + bar * s)}" '
                        f'y="{_number(baseline - h)}" width="{_number(max(bar - 1, 1))}" height="{_number(h)}">'
                        f'<title>{_text(_point_title(category, one, series, value_format(value)))}</title></rect>')
        body.append(_category_label(LEFT + group * c + group / 2, baseline, category))
    body.append(f'<line class="chart-baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{baseline}" y2="{baseline}"/>')
    return _frame(title, description or title, height, body, series, chart_id)


def line_chart(title: str, categories: Sequence[str], series: Sequence[Series], *, description: str = "",
               value_format: Callable[[float], str] = _default_format, top: float | None = None,
               chart_id: str = "", counts: bool = False) -> str:
    """One line per series over the categories (left to right), each point marked, as an <svg> element's text.
    A missing value (None) breaks the line."""
    height = HEIGHT + (16 if len(series) > 1 else 0)
    plot_height = HEIGHT - TOP - BOTTOM
    top = _top(series, top, counts)
    body = _axis(top, plot_height, value_format)
    baseline = TOP + plot_height
    step = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    # Too many categories for a label each (a month of days): every n-th is labelled.
    every = max(1, math.ceil(len(categories) / 16))
    xs = [LEFT + step * c + step / 2 for c in range(len(categories))]
    for s, one in enumerate(series):
        css = f"chart-series-{s % SERIES_CLASSES}"
        runs, run = [], []
        for c in range(len(categories)):
            value = one.values[c] if c < len(one.values) else None
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((xs[c], baseline - plot_height * min(max(value, 0) / top, 1), categories[c], value))
        if run:
            runs.append(run)
        for points in runs:
            if len(points) > 1:
                body.append(f'<polyline class="chart-line {css}" fill="none" points="'
                            + " ".join(f"{_number(x)},{_number(y)}" for x, y, _, _ in points) + '"/>')
            for x, y, category, value in points:
                body.append(f'<circle class="chart-point {css}" cx="{_number(x)}" cy="{_number(y)}" r="3">'
                            f'<title>{_text(_point_title(category, one, series, value_format(value)))}</title>'
                            f'</circle>')
    for c, category in enumerate(categories):
        if c % every == 0:
            body.append(_category_label(xs[c], baseline, category))
    body.append(f'<line class="chart-baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{baseline}" y2="{baseline}"/>')
    return _frame(title, description or title, height, body, series, chart_id)


def _point_title(category: str, one: Series, series: Sequence[Series], value: str) -> str:
    return f"{category} · {one.name}: {value}" if len(series) > 1 else f"{category}: {value}"


def percent(share: float, language: str = "es") -> str:
    """A share as a percentage with at most one decimal, a decimal comma in Spanish: 0.875 -> '87,5 %'."""
    return decimal(share * 100, language, 1) + " %"


def decimal(value: float, language: str = "es", places: int = 2) -> str:
    """A number with at most `places` decimals; a decimal comma in Spanish (es-VE), a point in English."""
    text = _number(round(value, places)) if places <= 2 else str(round(value, places))
    return text.replace(".", ",") if language == "es" else text
