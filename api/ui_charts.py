"""Charts of the dashboard as plain SVG shapes computed here (no chart library, no script):
the template draws `<rect>` and `<text>` elements from these numbers; text goes through
Jinja2's escaping like everything else."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 36, 28, 10


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    series: int  # index of the series: the CSS class picks its colour
    title: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    labels: list[tuple[float, str]]  # x, text under the axis
    ticks: list[tuple[float, int]]  # y, value
    legend: list[tuple[int, str]]
    width: int = WIDTH
    height: int = HEIGHT


def stacked(days: list[str], data: dict[str, dict[str, int]], series: list[str],
            names: dict[str, str]) -> Chart:
    """A stacked bar per day, one segment per series present."""
    totals = [sum(data[d].get(s, 0) for s in series) for d in days]
    top = max([*totals, 1])
    plot_h = HEIGHT - BOTTOM - TOP
    step = (WIDTH - LEFT) / max(1, len(days))
    bars: list[Bar] = []
    for i, d in enumerate(days):
        y = HEIGHT - BOTTOM
        for k, s in enumerate(series):
            n = data[d].get(s, 0)
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            bars.append(Bar(round(LEFT + i * step + step * 0.15, 1), round(y, 1),
                            round(step * 0.7, 1), round(h, 1), k,
                            f"{d} {names.get(s, s)}：{n}"))
    labels = [(round(LEFT + i * step + step / 2, 1), d[5:]) for i, d in enumerate(days)]
    ticks = [(round(HEIGHT - BOTTOM - plot_h * f, 1), round(top * f)) for f in (0, 0.5, 1)]
    used = [s for s in series if any(data[d].get(s) for d in days)]
    return Chart(bars, labels, ticks, [(series.index(s), names.get(s, s)) for s in used])
