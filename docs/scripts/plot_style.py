"""Plot helpers shared by the docs/scripts figures."""

from __future__ import annotations

import math


def log_cost_axis(ax, label: str) -> None:
    """A log-scale cost axis with plain numbers (1, 2, 5, 10, ...) instead of powers of ten."""
    import matplotlib.pyplot as plt

    def minor(v: float, _pos: int) -> str:
        mantissa = round(v / 10 ** math.floor(math.log10(v)), 6) if v > 0 else 0
        return f"{v:g}" if mantissa in (2, 5) else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(plt.FuncFormatter(minor))
    ax.set_xlabel(label)
