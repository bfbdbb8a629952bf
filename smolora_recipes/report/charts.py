"""Small deterministic SVG charts for the HTML report: line charts and histograms.

Written by hand rather than with matplotlib: a chart renders in well under a millisecond (so a
cached re-run writes its report at once), and the same data always gives the same bytes, so
two reports diff cleanly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 660, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 14, 46
GRID, AXIS, TEXT = "#e5e5e5", "#888", "#333"
FONT = 'font-family="system-ui,sans-serif" font-size="11"'


@dataclass(frozen=True)
class Series:
    """One line of a line chart: (x, y) points, drawn in `color`, dashed or solid."""

    label: str
    points: list[tuple[float, float]]
    color: str
    dashed: bool = False


def line_chart(series: list[Series], x_label: str, y_label: str, log_y: bool = False) -> str:
    """Lines with point markers, a grid, axis labels and a legend; log y when asked and possible."""
    xs = [x for line in series for x, _ in line.points]
    ys = [y for line in series for _, y in line.points]
    log_y = log_y and min(ys) > 0
    frame = _Frame(_padded(min(xs), max(xs)), _padded(min(ys), max(ys), log_y), log_y)
    parts = frame.axes(x_label, y_label)
    for line in series:
        coords = [(frame.x(x), frame.y(y)) for x, y in line.points]
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{line.color}" '
            f'stroke-width="1.6"{dash}/>'
        )
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.4" fill="{line.color}"/>' for x, y in coords
        )
    parts.extend(_legend(series))
    return _svg(parts)


def histogram(edges: list[float], counts: list[int], x_label: str, y_label: str) -> str:
    """Bars between consecutive `edges`, one per count."""
    frame = _Frame((edges[0], edges[-1]), (0.0, max(max(counts), 1) * 1.05), log_y=False)
    parts = frame.axes(x_label, y_label)
    for left, right, count in zip(edges, edges[1:], counts, strict=False):
        x0, x1, top = frame.x(left), frame.x(right), frame.y(count)
        parts.append(
            f'<rect x="{x0:.1f}" y="{top:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
            f'height="{frame.y(0) - top:.1f}" fill="#4c78a8"><title>{_number(left)}-'
            f"{_number(right)}: {count}</title></rect>"
        )
    return _svg(parts)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) within [low, high]."""
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = []
    value = first * step
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks at 1, 2 and 5 times each power of ten in [low, high]; evenly spaced if too narrow."""
    exponents = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    multipliers = (1, 2, 5) if len(exponents) <= 4 else (1,)
    ticks = [m * 10.0**e for e in exponents for m in multipliers]
    inside = [tick for tick in ticks if low <= tick <= high]
    return inside if len(inside) >= 2 else nice_ticks(low, high)


class _Frame:
    """Maps data coordinates to the plot area and draws the grid, ticks and axis labels."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float], log_y: bool):
        self.x_range, self.y_range, self.log_y = x_range, y_range, log_y

    def x(self, value: float) -> float:
        low, high = self.x_range
        return LEFT + (value - low) / (high - low) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        low, high = self.y_range
        if self.log_y:
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        return HEIGHT - BOTTOM - (value - low) / (high - low) * (HEIGHT - TOP - BOTTOM)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        parts = []
        bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
        y_ticks = log_ticks(*self.y_range) if self.log_y else nice_ticks(*self.y_range)
        for tick in y_ticks:
            y = self.y(tick)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{GRID}"/>'
            )
            parts.append(
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {FONT} fill="{TEXT}">'
                f"{_number(tick)}</text>"
            )
        for tick in nice_ticks(*self.x_range, count=8):
            x = self.x(tick)
            parts.append(
                f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="{AXIS}"/>'
            )
            parts.append(
                f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" {FONT} fill="{TEXT}">'
                f"{_number(tick)}</text>"
            )
        parts.append(
            f'<polyline points="{LEFT},{TOP} {LEFT},{bottom} {right},{bottom}" fill="none" '
            f'stroke="{AXIS}"/>'
        )
        middle_x, middle_y = (LEFT + right) / 2, (TOP + bottom) / 2
        parts.append(
            f'<text x="{middle_x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" {FONT} '
            f'fill="{TEXT}">{escape(x_label)}</text>'
        )
        parts.append(
            f'<text x="14" y="{middle_y:.1f}" text-anchor="middle" {FONT} fill="{TEXT}" '
            f'transform="rotate(-90 14 {middle_y:.1f})">{escape(y_label)}</text>'
        )
        return parts


def _legend(series: list[Series]) -> list[str]:
    parts = []
    for index, line in enumerate(series):
        y = TOP + 12 + index * 16
        x = WIDTH - RIGHT - 120
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{line.color}" '
            f'stroke-width="2"{dash}/>'
        )
        parts.append(f'<text x="{x + 28}" y="{y}" {FONT} fill="{TEXT}">{escape(line.label)}</text>')
    return parts


def _padded(low: float, high: float, log: bool = False) -> tuple[float, float]:
    """The data range with a little room on both sides (never empty)."""
    if log:
        low_log, high_log = _padded(math.log10(low), math.log10(high))
        return 10**low_log, 10**high_log
    if high == low:
        return low - 1, high + 1
    room = (high - low) * 0.04
    return low - room, high + room


def _number(value: float) -> str:
    return f"{value:.4g}"


def _svg(parts: list[str]) -> str:
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img">\n{body}\n</svg>'
    )
