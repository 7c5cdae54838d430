"""How an hourly series becomes a chart: the geometry of a stacked bar chart, drawn as SVG by a template.

Pure arithmetic, no markup: ``stacked_bars`` answers where each bar, tick
and legend entry goes, in the units of an SVG ``viewBox``; the template
``_chart.html`` writes the elements (so every label is escaped by Jinja2),
and the stylesheet colours the series by class. Charts drawn on the server
need no script, load with the page, and read in any browser.

At most ``MAX_SERIES`` names are drawn, the largest first; the rest are
summed as ``other``. Hours with nothing served are drawn as gaps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .._history import HOUR, HourRow

__all__ = ["Bar", "Chart", "Column", "Series", "Tick", "compact", "stacked_bars"]

WIDTH, HEIGHT = 560.0, 220.0
LEFT, RIGHT, TOP, BOTTOM = 50.0, 18.0, 12.0, 28.0
#: Gridlines above the axis: the top is four times a round step.
STEPS = 4
MAX_SERIES = 6
OTHER = "other"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    #: which series (its colour class)
    series: int
    #: what a pointer over it shows: the hour, the name and the value
    title: str


@dataclass(frozen=True)
class Column:
    """One hour's whole height: what a pointer over it shows (the hour, and each name's value)."""

    x: float
    width: float
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str
    #: left out where the chart is narrow (a phone), so labels do not run into each other
    minor: bool = False


@dataclass(frozen=True)
class Series:
    index: int
    name: str
    total: int


@dataclass(frozen=True)
class Chart:
    title: str
    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    bars: list[Bar]
    #: each series' bars as one SVG path (``d``), by series index: a few elements instead of one per bar
    paths: list[tuple[int, str]]
    columns: list[Column]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[Series]
    total: int


def compact(value: float) -> str:
    """``1234`` as ``1.2k``, ``2500000`` as ``2.5M``: numbers that fit beside an axis."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _nice_top(peak: float) -> float:
    """``STEPS`` times the smallest whole step of 1, 2 or 5 times a power of ten that reaches ``peak``."""
    wanted = max(peak, 1.0) / STEPS
    power = 10 ** math.floor(math.log10(wanted)) if wanted >= 1 else 1
    step = next(s * power for s in (1, 2, 5, 10) if s * power >= wanted)
    return float(step * STEPS)


def stacked_bars(
    rows: Iterable[HourRow],
    *,
    start_hour: int,
    hours: int,
    value: Callable[[HourRow], int],
    title: str,
    hour_label: Callable[[int], str],
    tick_label: Callable[[int], str | None],
    minor_tick: Callable[[int], bool] = lambda hour: False,
) -> Chart:
    """One bar per hour from ``start_hour`` (``hours`` of them), stacked by name, of ``value`` of each row.

    ``hour_label`` names an hour in a bar's title; ``tick_label`` names the
    hours that get a tick on the x axis (None: no tick), at the bar's middle;
    ``minor_tick`` says which of them a narrow screen leaves out.
    """
    by_name: dict[str, dict[int, int]] = {}
    for row in rows:
        index = (row.hour - start_hour) // HOUR
        if 0 <= index < hours and (amount := value(row)) > 0:
            slots = by_name.setdefault(row.name, {})
            slots[index] = slots.get(index, 0) + amount
    ranked = sorted(by_name, key=lambda n: (-sum(by_name[n].values()), n))
    kept, rest = ranked[:MAX_SERIES], ranked[MAX_SERIES:]
    if rest:
        kept = ranked[: MAX_SERIES - 1]
        merged: dict[int, int] = {}
        for name in ranked[MAX_SERIES - 1 :]:
            for index, amount in by_name[name].items():
                merged[index] = merged.get(index, 0) + amount
        by_name = {**{n: by_name[n] for n in kept}, OTHER: merged}
        kept = [*kept, OTHER]
    series = [Series(i, name, sum(by_name[name].values())) for i, name in enumerate(kept)]
    stacks = [sum(by_name[s.name].get(i, 0) for s in series) for i in range(hours)]
    top = _nice_top(max(stacks, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(hours, 1)
    gap = min(2.0, step * 0.2)
    bars: list[Bar] = []
    columns: list[Column] = []
    for i in range(hours):
        base = 0
        x = LEFT + i * step + gap / 2
        hour = hour_label(start_hour + i * HOUR)
        parts = []
        for s in series:
            amount = by_name[s.name].get(i, 0)
            if not amount:
                continue
            y_low = TOP + plot_h * (1 - base / top)
            y_high = TOP + plot_h * (1 - (base + amount) / top)
            label = f"{hour} · {s.name}: {amount:,}"
            bars.append(
                Bar(round(x, 2), round(y_high, 2), round(step - gap, 2), round(y_low - y_high, 2), s.index, label)
            )
            parts.append(f"{s.name}: {amount:,}")
            base += amount
        if parts:
            columns.append(Column(round(x, 2), round(step - gap, 2), " · ".join([hour, *parts])))
    paths = [
        (s.index, "".join(f"M{b.x} {b.y}h{b.width}v{b.height}h{-b.width}z" for b in bars if b.series == s.index))
        for s in series
    ]
    y_ticks = [Tick(round(TOP + plot_h * (1 - k / STEPS), 2), compact(top * k / STEPS)) for k in range(STEPS + 1)]
    x_ticks = []
    for i in range(hours):
        tick = tick_label(start_hour + i * HOUR)
        if tick is not None:
            x_ticks.append(Tick(round(LEFT + (i + 0.5) * step, 2), tick, minor_tick(start_hour + i * HOUR)))
    return Chart(
        title,
        WIDTH,
        HEIGHT,
        LEFT,
        TOP,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM,
        bars,
        paths,
        columns,
        y_ticks,
        x_ticks,
        series,
        sum(s.total for s in series),
    )
