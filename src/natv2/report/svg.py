"""Inline SVG fronts: one point per subnet that says what it is on hover (its `<title>`, no script) and,
for a model that was fine-tuned or exported, links to that model's row of the models table.

The cost axis is linear, or logarithmic when the cost spans more than a factor of 10 (a front of 40 k to
6 M parameters on a linear axis is a vertical line at the left edge). The accuracy axis is always linear:
a young front can span 5 % to 60 %, and a log scale there would only distort the trade-off."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from natv2.report.html import Html, tag

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 44
LOG_SPAN = 10.0  # a cost whose max / min exceeds this is drawn on a log axis
MAX_TICKS = 9  # more labels than this overlap on a 560 px axis


@dataclass(frozen=True)
class Axis:
    """A value range mapped onto [0, 1], linearly or in log10."""

    lo: float
    hi: float
    log: bool

    def unit(self, value: float) -> float:
        if self.log:
            lo, hi, value = math.log10(self.lo), math.log10(self.hi), math.log10(max(value, self.lo))
        else:
            lo, hi = self.lo, self.hi
        return 0.5 if hi == lo else (value - lo) / (hi - lo)

    def ticks(self) -> list[float]:
        """Round values inside the range: 1-2-5 steps per decade on a log axis, about 5 steps on a linear one."""
        return _log_ticks(self.lo, self.hi) if self.log else _linear_ticks(self.lo, self.hi)


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 per decade, fewer mantissas (then fewer decades) when that many labels would overlap."""
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    out: list[float] = []
    for mantissas in ((1, 2, 5), (1, 3), (1,)):
        out = [m * 10.0 ** e for e in decades for m in mantissas if lo <= m * 10.0 ** e <= hi]
        if len(out) <= MAX_TICKS:
            return out
    return out[:: math.ceil(len(out) / MAX_TICKS)]


def _linear_ticks(lo: float, hi: float) -> list[float]:
    raw = (hi - lo) / 5 or 1.0
    step = min((m * 10.0 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw))
    return [k * step for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]


def axis_for(values: Sequence[float], pad: float = 0.04, allow_log: bool = True) -> Axis:
    """The axis of `values`: log when allowed, positive and spanning more than LOG_SPAN; padded a little so
    no point sits on the frame."""
    lo, hi = min(values), max(values)
    if allow_log and lo > 0 and hi / lo > LOG_SPAN:
        f = (hi / lo) ** pad
        return Axis(lo / f, hi * f, True)
    d = (hi - lo) * pad or max(abs(hi) * pad, 1e-9)
    return Axis(lo - d, hi + d, False)


def short(value: float) -> str:
    """40k, 1.5M, 0.25: a tick label that fits."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


@dataclass(frozen=True)
class Point:
    """One subnet on the chart: its cost and accuracy (%), the hover text, and a link (or None)."""

    x: float
    y: float
    title: str
    href: str | None = None


def _xy(x: Axis, y: Axis, px: float, py: float) -> tuple[float, float]:
    return (LEFT + x.unit(px) * (WIDTH - LEFT - RIGHT), TOP + (1 - y.unit(py)) * (HEIGHT - TOP - BOTTOM))


def _grid(x: Axis, y: Axis, xlabel: str, ylabel: str, tick: Callable[[float], str]) -> list[Html]:
    """Frame, grid lines with tick labels, and the axis titles (the cost's says when it is a log scale)."""
    out = [tag("rect", x=LEFT, y=TOP, width=WIDTH - LEFT - RIGHT, height=HEIGHT - TOP - BOTTOM, class_="frame")]
    for v in x.ticks():
        gx, _ = _xy(x, y, v, y.lo)
        out.append(tag("line", x1=f"{gx:.1f}", x2=f"{gx:.1f}", y1=TOP, y2=HEIGHT - BOTTOM, class_="grid"))
        out.append(tag("text", tick(v), x=f"{gx:.1f}", y=HEIGHT - BOTTOM + 14, class_="tick", text_anchor="middle"))
    for v in y.ticks():
        _, gy = _xy(x, y, x.lo, v)
        out.append(tag("line", x1=LEFT, x2=WIDTH - RIGHT, y1=f"{gy:.1f}", y2=f"{gy:.1f}", class_="grid"))
        out.append(tag("text", short(v), x=LEFT - 6, y=f"{gy + 3:.1f}", class_="tick", text_anchor="end"))
    out.append(tag("text", xlabel + (" (log scale)" if x.log else ""), x=(LEFT + WIDTH - RIGHT) / 2, y=HEIGHT - 8,
                   class_="label", text_anchor="middle"))
    out.append(tag("text", ylabel, x=14, y=(TOP + HEIGHT - BOTTOM) / 2, class_="label", text_anchor="middle",
                   transform=f"rotate(-90 14 {(TOP + HEIGHT - BOTTOM) / 2:.0f})"))
    return out


def _dot(x: Axis, y: Axis, p: Point) -> Html:
    """A point: a circle whose `<title>` the browser shows on hover, inside a link when it has one."""
    cx, cy = _xy(x, y, p.x, p.y)
    dot = tag("circle", tag("title", p.title), cx=f"{cx:.1f}", cy=f"{cy:.1f}", r=5 if p.href else 4,
              class_="pt linked" if p.href else "pt")
    return tag("a", dot, href=p.href) if p.href else dot


def front_chart(points: Sequence[Point], xlabel: str, ylabel: str, caption: str,
                tick: Callable[[float], str] = short) -> Html:
    """An inline SVG scatter of `points` (at least one) with hover titles and links; `caption` is its
    accessible name, `tick` labels the cost axis."""
    x, y = axis_for([p.x for p in points]), axis_for([p.y for p in points], allow_log=False)
    dots = [_dot(x, y, p) for p in sorted(points, key=lambda p: (p.href is not None, p.x))]  # links drawn on top
    return tag("svg", tag("title", caption), _grid(x, y, xlabel, ylabel, tick), dots, class_="front-svg",
               viewBox=f"0 0 {WIDTH} {HEIGHT}", width=WIDTH, height=HEIGHT, xmlns="http://www.w3.org/2000/svg",
               aria_label=caption, data_log_x="true" if x.log else "false")
