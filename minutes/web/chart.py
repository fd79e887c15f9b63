"""SVG geometry of the timeline chart: bars, gridlines and labels in a viewBox.

Every coordinate the template draws with comes from here (it writes no numbers of its own), and
the template engine escapes every label. Counts per period come from minutes.features.timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from minutes.features.timeline import Period

CHART_WIDTH, CHART_HEIGHT = 640, 180
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 16, 146, 36   # the bars' area
PLOT_RIGHT_GAP = 8                               # between the last bar and the right edge
GRID_OVERHANG = 4                                # gridlines start this far left of the bars, end this far from the edge
TICK_GAP = 4                                     # tick numbers end this far left of the gridlines
TICK_DROP = 4                                    # and sit this far below their line (text baseline)
LABEL_DROP = 18                                  # period labels' baseline below the axis


@dataclass(frozen=True)
class Bar:
    period: Period
    x: float
    y: float
    width: float
    height: float
    href: str | None      # None for an empty period


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, int]]      # (y, count) gridlines
    labels: list[tuple[float, str]]     # (x centre, text) under the bars, thinned to fit
    baseline: float
    maximum: int
    grid_left: float = PLOT_LEFT - GRID_OVERHANG
    tick_x: float = PLOT_LEFT - GRID_OVERHANG - TICK_GAP
    tick_drop: float = TICK_DROP
    label_drop: float = LABEL_DROP

    @property
    def grid_right(self) -> float:
        return self.width - GRID_OVERHANG


def chart(buckets: list[Period], href: Callable[[Period], str], width: int = CHART_WIDTH,
          max_labels: int = 12) -> Chart:
    """Bar geometry in a `width` x CHART_HEIGHT viewBox; `href(period)` links a bar to its results."""
    maximum = max((p.count for p in buckets), default=0)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (width - PLOT_LEFT - PLOT_RIGHT_GAP) / max(len(buckets), 1)
    bar_width = max(min(slot * 0.7, 48.0), 2.0)
    bars = []
    for i, period in enumerate(buckets):
        height = plot_height * period.count / maximum if maximum else 0.0
        x = PLOT_LEFT + i * slot + (slot - bar_width) / 2
        bars.append(Bar(period, round(x, 1), round(PLOT_BOTTOM - height, 1), round(bar_width, 1), round(height, 1),
                        href(period) if period.count else None))
    step = max(1, -(-maximum // 4))
    ticks = [(round(PLOT_BOTTOM - plot_height * n / maximum, 1), n) for n in range(0, maximum + 1, step)] \
        if maximum else []
    every = max(1, -(-len(buckets) // max_labels))  # thin the labels under the axis to fit
    labels = [(round(b.x + b.width / 2, 1), b.period.label) for i, b in enumerate(bars) if i % every == 0]
    return Chart(width, CHART_HEIGHT, bars, ticks, labels, PLOT_BOTTOM, maximum)
