"""Charts drawn on the server as SVG: step lines over time and labelled bars (no script, no CDN).

The lines live in an inner SVG stretched to the width of the page, so a chart fills a
phone or a desk screen alike, while axis labels and legends are laid out in pixels and
stay the same readable size at any width.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["Series", "Bar", "PALETTE", "line_chart", "bar_chart", "percent", "nice_ceiling"]

PALETTE = ("#1f5fa8", "#b3261e", "#2e7d32", "#b26a00", "#6a1b9a", "#00838f", "#5d4037",
           "#c2185b")
PLOT_TOP, AXIS_BOTTOM = 12, 26
MAX_X_LABELS = 5  # "03-01" is ~40 px: five fit a 360 px phone


@dataclass(frozen=True)
class Series:
    """One line: a value per period (None: nothing measured) and its colour."""

    label: str
    values: Sequence[float | None]
    colour: str


@dataclass(frozen=True)
class Bar:
    """One labelled bar."""

    label: str
    value: float
    colour: str = "#1f5fa8"


def percent(value: float) -> str:
    """0.925 → "92.5%" (whole numbers without a decimal)."""
    shown = round(value * 100, 1)
    return f"{shown:g}%"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 8 × 10ⁿ at or above ``value``: its quarters are round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 4, 8, 10) if m * power >= value)


def _segments(values: Sequence[float | None], y_max: float) -> list[list[tuple[float, float]]]:
    """Step-line points per unbroken run of values (x in 0–1000, y in 0–100 from the top)."""
    runs: list[list[tuple[float, float]]] = []
    n = len(values)
    previous: float | None = None
    for i, value in enumerate(values):
        if value is None:
            previous = None
            continue
        y = 100 - min(max(value / y_max, 0.0), 1.0) * 100
        if previous is None:
            runs.append([])
        runs[-1] += [(i / n * 1000, y), ((i + 1) / n * 1000, y)]
        previous = value
    return runs


def _x_labels(labels: Sequence[str], height: int) -> list[str]:
    n = len(labels)
    if n == 0:
        return []
    count = min(n, MAX_X_LABELS)
    picks = sorted({round(k * (n - 1) / max(count - 1, 1)) for k in range(count)})
    texts = []
    for i in picks:
        centre = (i + 0.5) / n * 100
        anchor, x = "middle", f"{centre:.2f}%"
        if centre < 8:
            anchor, x = "start", "0"
        elif centre > 92:
            anchor, x = "end", "100%"
        texts.append(f'<text x="{x}" y="{height - 6}" text-anchor="{anchor}" '
                     f'class="chart-axis">{escape(labels[i])}</text>')
    return texts


def _grid(y_max: float, y_format: Callable[[float], str], plot_height: int) -> list[str]:
    lines = []
    for step in range(5):
        value = y_max * step / 4
        y = PLOT_TOP + plot_height - plot_height * step / 4
        lines.append(f'<line x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}" class="chart-grid"/>'
                     f'<text x="2" y="{y - 3:.1f}" class="chart-axis">'
                     f'{escape(y_format(value))}</text>')
    return lines


def line_chart(*, name: str, title: str, series: Sequence[Series], x_labels: Sequence[str],
               y_max: float, y_format: Callable[[float], str] = percent, height: int = 240,
               legend: Sequence[str] | None = None) -> Markup:
    """A step-line chart of values per period, with its axes, a legend and a title."""
    plot_height = height - PLOT_TOP - AXIS_BOTTOM
    y_max = y_max if y_max > 0 else 1.0
    parts = [f'<figure class="chart" data-chart="{escape(name)}">'
             f'<figcaption class="chart-title">{escape(title)}</figcaption>'
             f'<svg class="chart-svg" width="100%" height="{height}" role="img" '
             f'aria-label="{escape(title)}">', *_grid(y_max, y_format, plot_height),
             f'<svg x="0" y="{PLOT_TOP}" width="100%" height="{plot_height}" '
             f'viewBox="0 0 1000 100" preserveAspectRatio="none">']
    for line in series:
        for run in _segments(line.values, y_max):
            points = " ".join(f"{x:.1f},{y:.2f}" for x, y in run)
            parts.append(f'<polyline points="{points}" fill="none" stroke="{line.colour}" '
                         f'stroke-width="2.5" vector-effect="non-scaling-stroke" '
                         f'data-series="{escape(line.label)}"><title>{escape(line.label)}'
                         f'</title></polyline>')
    parts.append("</svg>")
    parts += _x_labels(x_labels, height)
    parts.append("</svg>")
    if not any(v is not None for line in series for v in line.values):
        parts.append('<p class="muted chart-empty">这段时间没有数据</p>')
    parts.append('<ul class="chart-legend">')
    for i, line in enumerate(series):
        note = f" {escape(legend[i])}" if legend else ""
        parts.append(f'<li><span class="chart-swatch" style="background:{line.colour}"></span>'
                     f'{escape(line.label)}{note}</li>')
    parts.append("</ul></figure>")
    return Markup("".join(parts))


def bar_chart(*, name: str, title: str, bars: Sequence[Bar],
              value_format: Callable[[float], str] = lambda v: f"{v:g}") -> Markup:
    """Horizontal bars, each with its label above it and its value at its end."""
    row = 40
    largest = max((b.value for b in bars), default=0) or 1
    parts = [f'<figure class="chart" data-chart="{escape(name)}">'
             f'<figcaption class="chart-title">{escape(title)}</figcaption>'
             f'<svg class="chart-svg" width="100%" height="{row * len(bars) + 4}" role="img" '
             f'aria-label="{escape(title)}">']
    for i, bar in enumerate(bars):
        top = i * row
        width = bar.value / largest * 85
        parts.append(
            f'<g data-bar="{escape(bar.label)}"><text x="0" y="{top + 15}" class="chart-label">'
            f'{escape(bar.label)}</text>'
            f'<rect x="0" y="{top + 20}" width="{width:.2f}%" height="14" rx="2" '
            f'fill="{bar.colour}"/><text x="{width + 1:.2f}%" y="{top + 32}" '
            f'class="chart-value">{escape(value_format(bar.value))}</text></g>')
    parts.append("</svg></figure>")
    return Markup("".join(parts))
