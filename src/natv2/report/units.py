"""How numbers are shown: objective units (a registry, so new cost objectives get a label) and rounding."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Unit:
    """A cost objective on screen: `value * scale` in `unit`, with `digits` decimals. `si`: a count (params,
    MACs) whose raw value reads well with an SI suffix (40k, 4M), as chart ticks that span decades need."""

    label: str
    scale: float = 1.0
    unit: str = ""
    digits: int = 2
    si: bool = False

    def convert(self, value: float) -> float:
        return value * self.scale

    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def format(self, value: float | None) -> str:
        return fmt(None if value is None else self.convert(value), self.digits)


OBJECTIVE_UNITS: dict[str, Unit] = {
    "params": Unit("params", 1e-6, "M", 2, si=True),
    "macs": Unit("MACs", 1e-6, "M", 1, si=True),
    "flops": Unit("FLOPs", 1e-6, "M", 1, si=True),
    "latency": Unit("latency", 1.0, "ms", 2),
    "lut_latency": Unit("LUT latency", 1.0, "ms", 2),
}


def unit_for(objective: str) -> Unit:
    return OBJECTIVE_UNITS.get(objective, Unit(objective, 1.0, "", 3))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, digits: int = 2) -> str:
    """A number rounded to `digits` decimals; '–' for missing or non-finite values."""
    if not is_number(value):
        return "–"
    return f"{value:,.{digits}f}"


def pct(fraction: Any, digits: int = 2) -> str:
    """A [0, 1] accuracy as a percentage."""
    return fmt(100.0 * fraction, digits) if is_number(fraction) else "–"


def signed_pp(delta_fraction: Any, digits: int = 2) -> str:
    """A difference of two [0, 1] accuracies in percentage points, with its sign."""
    if not is_number(delta_fraction):
        return "–"
    return f"{100.0 * delta_fraction:+.{digits}f}"


def mega(value: Any, digits: int = 2) -> str:
    return fmt(value / 1e6, digits) if is_number(value) else "–"


def duration(seconds: Any) -> str:
    """12 s, 3 min 05 s, 1 h 02 min."""
    if not is_number(seconds):
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"
    m, sec = divmod(int(round(s)), 60)
    if m < 60:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"
