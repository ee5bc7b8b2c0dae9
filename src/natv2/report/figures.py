"""The report's figures, drawn from plain data with matplotlib's object API (Agg, no pyplot state).

Every function takes numbers, draws one PNG and writes it atomically. Styling is applied with a
scoped rc_context, so nothing global changes for the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from natv2.io.atomic import atomic_write_with

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e6ea",
    "grid.linewidth": 0.7,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "savefig.dpi": 120,
    "figure.dpi": 120,
}
C_MAX, C_MIN, C_RAND, C_MEAN, C_LOSS = "#1f5fa8", "#c2410c", "#15803d", "#6b7280", "#7c3aed"
C_ARCHIVE, C_PICK = "#c8ccd2", "#eab308"
ITER_CMAP = "viridis"


@dataclass(frozen=True)
class Limits:
    """Fixed axis limits shared by every panel that must compare."""

    x: tuple[float, float]
    y: tuple[float, float]


def plain(text: str) -> str:
    """Text drawn as is: matplotlib would read $...$ in a phase or model name as math (and may fail on it)."""
    return str(text).replace("$", r"\$")


def padded(values: Sequence[float], frac: float = 0.05) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    return lo - frac * span, hi + frac * span


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(fig: Any, path: Path) -> Path:
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"))
    return path


def _draw(path: Path, size: tuple[float, float], draw: Callable[[Any], None], nrows: int = 1, ncols: int = 1,
          **subplot_kw: Any) -> Path:
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=size, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
        draw((fig, axes))
        return _save(fig, path)


# ---------------------------------------------------------------------- supernet training
@dataclass(frozen=True)
class EpochPoint:
    """One epoch of one phase, reduced to what the training figure shows."""

    phase: str
    max_acc: float | None
    min_acc: float | None
    rand_mean: float | None
    rand_lo: float | None
    rand_hi: float | None
    grid_mean: float | None
    loss: float | None


def phase_segments(phases: Sequence[str]) -> list[tuple[str, int, int]]:
    """(phase, first index, last index) of each run of equal consecutive names."""
    out: list[tuple[str, int, int]] = []
    for i, name in enumerate(phases):
        if out and out[-1][0] == name and out[-1][2] == i - 1:
            out[-1] = (name, out[-1][1], i)
        else:
            out.append((name, i, i))
    return out


def training_curves(points: Sequence[EpochPoint], path: Path, labels: dict[str, str]) -> Path:
    """Validation accuracy (max / min / random subnets, grid mean) and training loss over all epochs,
    with one shaded band per phase so each phase's curve reads on its own."""
    n = len(points)
    xs = list(range(1, n + 1))
    segments = phase_segments([p.phase for p in points])

    def series(attr: str, first: int, last: int) -> tuple[list[int], list[float]]:
        pts = [(xs[i], getattr(points[i], attr)) for i in range(first, last + 1) if getattr(points[i], attr) is not None]
        return [p[0] for p in pts], [p[1] for p in pts]

    def draw(fa: Any) -> None:
        fig, axes = fa
        acc, loss = axes[0][0], axes[1][0]
        marker = "o" if n <= 60 else None
        labelled: set[str] = set()

        def label(key: str) -> str | None:  # each legend entry once, lines broken between phases
            if key in labelled:
                return None
            labelled.add(key)
            return labels.get(key)

        for _, first, last in segments:
            bx, lo = series("rand_lo", first, last)
            _, hi = series("rand_hi", first, last)
            if bx:
                acc.fill_between(bx, lo, hi, color=C_RAND, alpha=0.15, linewidth=0, label=label("rand_band"))
            for attr, color, style in (("max_acc", C_MAX, "-"), ("rand_mean", C_RAND, "-"), ("min_acc", C_MIN, "-"),
                                       ("grid_mean", C_MEAN, "--")):
                x, y = series(attr, first, last)
                if x:
                    acc.plot(x, y, style, color=color, marker=marker, ms=2.5, lw=1.4, label=label(attr))
            lx, ly = series("loss", first, last)
            if lx:
                loss.plot(lx, ly, "-", color=C_LOSS, marker=marker, ms=2.5, lw=1.4)
        for k, (phase, first, last) in enumerate(segments):
            for ax in (acc, loss):
                if k % 2 == 1:
                    ax.axvspan(first + 0.5, last + 1.5, color="#eef1f5", linewidth=0, zorder=0)
                if first > 0:
                    ax.axvline(first + 0.5, color="#9aa3ad", lw=0.8, zorder=1)
            acc.text((first + last + 2) / 2, 1.01, plain(phase), ha="center", va="bottom", fontsize=8, color="#374151",
                     transform=acc.get_xaxis_transform())
        acc.set_ylabel("validation top-1 (%)")
        handles, names = acc.get_legend_handles_labels()
        order = [labels.get(k) for k in ("max_acc", "rand_mean", "rand_band", "min_acc", "grid_mean")]
        ranked = sorted(zip(handles, names), key=lambda hn: order.index(hn[1]) if hn[1] in order else len(order))
        if ranked:
            fig.legend([h for h, _ in ranked], [n for _, n in ranked], loc="outside lower center", ncols=5)
        loss.set_ylabel("training loss")
        loss.set_xlabel("epoch (all phases, in order)")
        loss.set_xlim(0.5, n + 0.5)
        if n <= 30:
            loss.set_xticks(xs)

    return _draw(path, (9.5, 5.6), draw, nrows=2, ncols=1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})


# ---------------------------------------------------------------------- search
@dataclass(frozen=True)
class FrontPanel:
    """One search iteration in one (cost, accuracy) plane; values already in display units."""

    iteration: int
    archive: list[tuple[float, float]]
    front: list[tuple[float, float]]
    subtitle: str = ""


def staircase(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The 2-D non-dominated subset (lower cost, higher accuracy), sorted by cost."""
    best = -math.inf
    out = []
    for c, a in sorted(points, key=lambda p: (p[0], -p[1])):
        if a > best:
            out.append((c, a))
            best = a
    return out


def _iter_colors(last: int) -> Callable[[int], Any]:
    import matplotlib

    cmap = matplotlib.colormaps[ITER_CMAP]
    return lambda it: cmap(0.9 * it / max(last, 1))


def _step(ax: Any, pts: Sequence[tuple[float, float]], xmax: float, **kw: Any) -> None:
    st = staircase(pts)
    if st:
        xs = [p[0] for p in st] + [xmax]
        ys = [p[1] for p in st] + [st[-1][1]]
        ax.step(xs, ys, where="post", **kw)


def front_grid(panels: Sequence[FrontPanel], limits: Limits, xlabel: str, path: Path, last_iteration: int) -> Path:
    """Small multiples: archive (grey) and front (coloured) of each iteration, all on the same axes."""
    ncols = min(4, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    color = _iter_colors(last_iteration)

    def draw(fa: Any) -> None:
        fig, axes = fa
        for k, ax in enumerate(ax for row in axes for ax in row):
            if k >= len(panels):
                ax.set_visible(False)
                continue
            p = panels[k]
            if p.archive:
                ax.scatter(*zip(*p.archive), s=9, color=C_ARCHIVE, linewidths=0, label="archive")
            if p.front:
                ax.scatter(*zip(*p.front), s=16, color=color(p.iteration), linewidths=0, label="front", zorder=3)
                _step(ax, p.front, limits.x[1], color=color(p.iteration), lw=1.1, zorder=2)
            ax.set_xlim(*limits.x)
            ax.set_ylim(*limits.y)
            ax.set_title(f"iteration {p.iteration}" + (f"  ·  {p.subtitle}" if p.subtitle else ""))
            if k % ncols == 0:
                ax.set_ylabel("top-1 (%)")
            if k >= len(panels) - ncols:
                ax.set_xlabel(xlabel)

    return _draw(path, (2.6 * ncols + 0.6, 2.2 * nrows + 0.4), draw, nrows=nrows, ncols=ncols, sharex=True, sharey=True)


def front_overlay(fronts: Sequence[tuple[int, list[tuple[float, float]]]], final: Sequence[tuple[float, float]],
                  picks: Sequence[tuple[str, float, float]], limits: Limits, xlabel: str, path: Path) -> Path:
    """Every iteration's front as a staircase coloured by iteration; final front and high-trade-off picks on top."""
    last = max((it for it, _ in fronts), default=0)
    color = _iter_colors(last)

    def draw(fa: Any) -> None:
        import matplotlib
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        fig, axes = fa
        ax = axes[0][0]
        for it, pts in fronts:
            _step(ax, pts, limits.x[1], color=color(it), lw=1.0 if it != last else 2.0, alpha=0.9)
        if final:
            ax.scatter(*zip(*final), s=22, facecolors="white", edgecolors="#111827", linewidths=0.9, zorder=4,
                       label="final non-dominated")
        for label, x, y in picks:
            ax.scatter([x], [y], s=140, marker="*", color=C_PICK, edgecolors="#713f12", linewidths=0.6, zorder=5)
            ax.annotate(plain(label), (x, y), xytext=(5, -11), textcoords="offset points", fontsize=8, color="#713f12")
        if picks:
            ax.scatter([], [], s=110, marker="*", color=C_PICK, edgecolors="#713f12", linewidths=0.6,
                       label="high trade-off pick")
        ax.set_xlim(*limits.x)
        ax.set_ylim(*limits.y)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("top-1 (%)")
        if final or picks:
            ax.legend(loc="lower right")
        if last > 0:
            cmap = matplotlib.colormaps[ITER_CMAP]
            sm = ScalarMappable(Normalize(0, last / 0.9), cmap)
            bar = fig.colorbar(sm, ax=ax, fraction=0.04, pad=0.02)
            bar.set_label("iteration")
            bar.ax.set_ylim(0, last)
            from matplotlib.ticker import MaxNLocator

            bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    return _draw(path, (6.0, 3.8), draw)


def hv_curve(iterations: Sequence[int], hv: Sequence[float], path: Path, ylabel: str) -> Path:
    def draw(fa: Any) -> None:
        ax = fa[1][0][0]
        ax.plot(iterations, hv, "-o", color=C_MAX, ms=3.5, lw=1.5)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        _integer_x(ax)

    return _draw(path, (4.4, 2.7), draw)


def surrogate_curves(iterations: Sequence[int], kendall: Sequence[float | None], spearman: Sequence[float | None],
                     rmse: Sequence[float | None], path: Path) -> Path:
    """Out-of-sample rank correlation and RMSE of the surrogate on each iteration's new candidates."""

    def pts(values: Sequence[float | None]) -> tuple[list[int], list[float]]:
        keep = [(i, v) for i, v in zip(iterations, values) if v is not None]
        return [k[0] for k in keep], [k[1] for k in keep]

    def draw(fa: Any) -> None:
        corr, err = fa[1][0]
        for values, label, color in ((kendall, "Kendall τ", C_MAX), (spearman, "Spearman ρ", C_RAND)):
            x, y = pts(values)
            if x:
                corr.plot(x, y, "-o", ms=3.5, lw=1.4, color=color, label=label)
        corr.axhline(0, color="#9aa3ad", lw=0.8)
        lows = [v for v in list(kendall) + list(spearman) if v is not None]
        corr.set_ylim(min(-0.05, min(lows, default=0) - 0.05), 1.02)
        corr.set_ylabel("rank correlation")
        corr.set_xlabel("iteration")
        if corr.get_legend_handles_labels()[0]:  # no correlations yet (e.g. one iteration): no legend
            corr.legend(loc="best")
        x, y = pts(rmse)
        if x:
            err.plot(x, y, "-o", ms=3.5, lw=1.4, color=C_MIN)
        err.set_ylim(bottom=0)
        err.set_ylabel("RMSE (pp of top-1 error)")
        err.set_xlabel("iteration")
        for ax in (corr, err):
            _integer_x(ax)

    return _draw(path, (9.0, 3.0), draw, nrows=1, ncols=2)


# ---------------------------------------------------------------------- fine-tuning
def finetune_shift(items: Sequence[tuple[str, float, float | None, float]], xlabel: str, path: Path,
                   split: str) -> Path:
    """Each model's accuracy with inherited weights (hollow) and after fine-tuning (filled), joined by an arrow.

    items: (label, x, before or None, after) in display units.
    """

    def draw(fa: Any) -> None:
        ax = fa[1][0][0]
        for label, x, before, after in items:
            if before is not None:
                ax.annotate("", xy=(x, after), xytext=(x, before),
                            arrowprops={"arrowstyle": "->", "color": "#6b7280", "lw": 1.0, "shrinkA": 3, "shrinkB": 3})
                ax.scatter([x], [before], s=30, facecolors="white", edgecolors=C_MIN, linewidths=1.2, zorder=3)
            ax.scatter([x], [after], s=30, color=C_MAX, zorder=4)
            ax.annotate(plain(label), (x, after), xytext=(5, 3), textcoords="offset points", fontsize=8)
        ax.scatter([], [], s=30, facecolors="white", edgecolors=C_MIN, linewidths=1.2, label="inherited weights")
        ax.scatter([], [], s=30, color=C_MAX, label="fine-tuned")
        xs = [it[1] for it in items]
        ys = [v for it in items for v in (it[2], it[3]) if v is not None]
        ax.set_xlim(*padded(xs, 0.12))
        ax.set_ylim(*padded(ys, 0.15))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{split} top-1 (%)")
        ax.legend(loc="best")

    return _draw(path, (5.6, 3.4), draw)
