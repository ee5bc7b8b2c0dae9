"""Per-epoch training metrics: a JSONL log that survives resume, and a plot of validation accuracy
per phase.

Accuracies are fractions in [0, 1], as everywhere in natv2 (percent is for display). Each record says so
(`accuracy_unit`); records written before that key existed hold percent, and `in_fractions` converts them,
so every reader (`MetricsLog.read`, the report) sees fractions whatever wrote the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from natv2.errors import RunDirError
from natv2.io import atomic_write_text
from natv2.io.atomic import atomic_write_with


ACCURACY_UNIT_KEY = "accuracy_unit"
ACCURACY_UNIT = "fraction"


def _scaled(value: Any, factor: float) -> Any:
    if isinstance(value, dict):
        return {k: _scaled(v, factor) for k, v in value.items()}
    return value * factor if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def in_fractions(record: dict[str, Any]) -> dict[str, Any]:
    """A metrics record with its accuracies as fractions (a record of the percent era converted)."""
    if record.get(ACCURACY_UNIT_KEY) == ACCURACY_UNIT:
        return record
    out = {**record, ACCURACY_UNIT_KEY: ACCURACY_UNIT}
    for key in ("val", "val_mean"):
        if key in out:
            out[key] = _scaled(out[key], 0.01)
    ev = out.get("phase_eval")
    if isinstance(ev, dict):
        out["phase_eval"] = {**ev, **{k: _scaled(ev[k], 0.01) for k in ("acc", "max", "min", "random_mean") if k in ev}}
    return out


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _accuracies(value: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in (value or {}).items() if _number(v) is not None} if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class PhaseEval:
    """The end-of-phase evaluation: top-1 (fractions) of the max, min and seeded random subnets on one split."""

    split: str | None
    acc: dict[str, float]  # grid label -> top-1
    max: float | None
    min: float | None
    random_mean: float | None

    @property
    def random(self) -> list[float]:
        return [v for k, v in self.acc.items() if k.startswith("rand")]


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of supernet training as readers outside train/ see it (the report): accuracies as fractions,
    whatever unit the file holds."""

    phase: str
    phase_index: int
    epoch: int
    val: dict[str, float] = field(default_factory=dict)  # grid label -> validation top-1
    val_mean: float | None = None
    train_loss: float | None = None
    train_s: float | None = None
    images_per_s: float | None = None
    phase_eval: PhaseEval | None = None

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> "EpochRecord":
        """A metrics line; one without phase and epoch, or with a `val` that is not an object, is a RunDirError."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("phase"), str) or not isinstance(doc.get("epoch"), int):
            raise RunDirError(f"{where} has no phase/epoch", "train again, or restore the file")
        if not isinstance(doc.get("val", {}), Mapping):
            raise RunDirError(f"{where}: 'val' is not an object", "train again, or restore the file")
        d = in_fractions(dict(doc))
        ev = d.get("phase_eval")
        evaluation = PhaseEval(ev.get("split"), _accuracies(ev.get("acc")), _number(ev.get("max")), _number(ev.get("min")),
                               _number(ev.get("random_mean"))) if isinstance(ev, Mapping) else None
        return cls(d["phase"], int(d.get("phase_index") or 0), d["epoch"], _accuracies(d.get("val")), _number(d.get("val_mean")),
                   _number(d.get("train_loss")), _number(d.get("train_s")), _number(d.get("images_per_s")), evaluation)


class MetricsLog:
    """Append-only JSON lines, one per epoch; `truncate_after` drops lines a resumed run will redo."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, ACCURACY_UNIT_KEY: ACCURACY_UNIT}, sort_keys=False) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                try:
                    out.append(in_fractions(json.loads(line)))
                except json.JSONDecodeError:
                    break  # a torn last line from a crash
        return out

    def truncate_after(self, phase_index: int, epoch: int) -> None:
        """Keep records up to and including (phase_index, epoch); rewrite atomically."""
        keep = [r for r in self.read() if (r["phase_index"], r["epoch"]) <= (phase_index, epoch)]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))


def plot_validation(records: Iterable[dict[str, Any]], path: str | Path, title: str = "") -> Path | None:
    """Validation accuracy (mean, max-net and min-net of the grid) per epoch, one colour band per phase."""
    records = [r for r in records if r.get("val")]
    if not records:
        return None
    from matplotlib import colormaps
    from matplotlib.figure import Figure  # the object API: no pyplot, no global backend switch

    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    xs = list(range(1, len(records) + 1))
    series = {
        "grid mean": [_percent(r["val_mean"]) for r in records],
        "max net": [_percent(_first(r["val"], "max@")) for r in records],
        "min net": [_percent(_first(r["val"], "min@")) for r in records],
    }
    for label, ys in series.items():
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", ms=3, label=label)
    start = 0
    cmap = colormaps["tab20"]
    for i in range(1, len(records) + 1):
        if i == len(records) or records[i]["phase"] != records[start]["phase"]:
            ax.axvspan(start + 0.5, i + 0.5, color=cmap(records[start]["phase_index"] % 20), alpha=0.15)
            ax.text((start + i + 1) / 2, 0.98, records[start]["phase"], ha="center", va="top",
                    fontsize=7, rotation=90, transform=ax.get_xaxis_transform())
            start = i
    ax.set_xlabel("epoch (all phases)")
    ax.set_ylabel("validation top-1 (%)")
    ax.set_title(title or "supernet training: validation accuracy per phase")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    atomic_write_with(out, lambda tmp: fig.savefig(tmp, format=out.suffix.lstrip(".") or "png", dpi=110))
    return out


def _first(val: dict[str, float], prefix: str) -> float | None:
    """The accuracy of the first grid entry whose label starts with `prefix` (largest resolution last)."""
    hits = [v for k, v in val.items() if k.startswith(prefix)]
    return hits[-1] if hits else None


def phase_eval_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown table of the end-of-phase evaluations: max, min, mean/min/max of the random subnets."""
    rows = ["| phase | max net | min net | random mean | random min-max |", "|---|---|---|---|---|"]
    for r in records:
        ev = r.get("phase_eval")
        if not ev:
            continue
        rand = [100 * v for k, v in ev["acc"].items() if k.startswith("rand")]
        spread = f"{min(rand):.2f}-{max(rand):.2f}" if rand else "-"
        mean = _pct(ev.get("random_mean"))
        rows.append(f"| {r['phase']} | {_pct(ev.get('max'))} | {_pct(ev.get('min'))} | {mean} | {spread} |")
    return "\n".join(rows)


def _percent(v: float | None) -> float | None:
    return None if v is None else 100 * v


def _pct(v: float | None) -> str:
    """A fraction shown in percent."""
    return "-" if v is None else f"{100 * v:.2f}"
