"""Supernet training: validation accuracy of the max / min / random subnets and the loss, per phase."""

from __future__ import annotations

from statistics import mean
from natv2.report import figures
from natv2.report.context import ReportContext, SectionResult
from natv2.report.html import Html, figure, join, note, table, tag
from natv2.report.load import TRAIN_METRICS
from natv2.report.units import duration, fmt
from natv2.train.metrics import EpochRecord


def _split_label(label: str) -> tuple[str, int | None]:
    name, _, res = label.rpartition("@")
    if not name:
        return label, None
    try:
        return name, int(res)
    except ValueError:
        return label, None


def _pct(value: float | None) -> float | None:
    """A fraction in percent, for the figures and tables (the records hold fractions)."""
    return None if value is None else 100 * value


def epoch_point(record: EpochRecord) -> figures.EpochPoint:
    """max subnet at its largest resolution, min subnet at its smallest, the random subnets' mean and range (%)."""
    parsed = [(*_split_label(k), 100 * v) for k, v in record.val.items()]
    maxes = [(r or 0, v) for name, r, v in parsed if name == "max"]
    mins = [(r or 0, v) for name, r, v in parsed if name == "min"]
    rand = [v for name, _, v in parsed if name.startswith("rand")]
    return figures.EpochPoint(
        phase=record.phase,
        max_acc=max(maxes)[1] if maxes else None,
        min_acc=min(mins)[1] if mins else None,
        rand_mean=mean(rand) if rand else None,
        rand_lo=min(rand) if rand else None,
        rand_hi=max(rand) if rand else None,
        grid_mean=_pct(record.val_mean),
        loss=record.train_loss,
    )


class TrainingSection:
    id = "training"
    title = "Supernet training"
    missing = f"no {TRAIN_METRICS}: this run did not train a supernet here (or imported one)"

    def build(self, ctx: ReportContext) -> SectionResult | None:
        data = ctx.training()
        if data is None:
            return None
        records = data.records
        points = [epoch_point(r) for r in records]
        parts: list[Html] = []
        n_rand = max((len({_split_label(k)[0] for k in r.val if k.startswith("rand")}) for r in records), default=0)
        if any(p.max_acc is not None or p.grid_mean is not None for p in points):
            labels = {"max_acc": "max subnet", "min_acc": "min subnet", "rand_mean": "random subnets (mean)",
                      "rand_band": "random subnets (range)", "grid_mean": "grid mean"}
            path = figures.training_curves(points, ctx.figure_path("training_curves"), labels)
            parts.append(figure(ctx.src(path), "validation accuracy and training loss per epoch and phase",
                                "Validation top-1 of the fixed validation grid after every epoch (BN recalibrated per "
                                f"subnet): the largest subnet at its largest resolution, the smallest at its smallest, "
                                f"and {n_rand or 'the'} random subnets per resolution (line: mean, band: range). "
                                "Grid mean also averages the per-dimension minima. Bottom: training loss."))
        else:
            parts.append(note("The metrics hold no validation results (validation was switched off), so only the "
                              "table is shown.", "info"))
        parts.append(tag("h3", "Per phase", id="training-phases"))
        parts.append(self._phase_table(records, points))
        evals = [r for r in records if r.phase_eval is not None]
        subs = [("training-phases", "Per phase")]
        if evals:
            parts.append(tag("h3", "End-of-phase evaluation", id="training-eval"))
            parts.append(self._eval_table(evals))
            subs.append(("training-eval", "End-of-phase evaluation"))
        parts.append(tag("p", "Source: ", ctx.run_link(TRAIN_METRICS, TRAIN_METRICS), class_="caption"))
        return SectionResult(join(parts), subs)

    def _phase_table(self, records: list[EpochRecord], points: list[figures.EpochPoint]) -> Html:
        rows = []
        for phase, first, last in figures.phase_segments([p.phase for p in points]):
            recs = records[first:last + 1]
            final = points[last]
            means = [(r.val_mean, r.epoch) for r in recs if r.val_mean is not None]
            best = max(means, key=lambda m: m[0]) if means else None
            secs = [r.train_s for r in recs if r.train_s is not None]
            ips = [r.images_per_s for r in recs if r.images_per_s is not None]
            rows.append([
                phase, len(recs),
                f"{fmt(_pct(best[0]))} (epoch {best[1] + 1})" if best else "–",
                fmt(final.max_acc), fmt(final.min_acc), fmt(final.rand_mean),
                fmt(final.loss, 3),
                duration(sum(secs)) if secs else "–",
                fmt(mean(ips), 0) if ips else "–",
            ])
        return table(["phase", "epochs", "best grid mean (%)", "last: max (%)", "last: min (%)", "last: random (%)",
                      "last loss", "train time", "images/s"], rows, numeric=range(1, 9))

    def _eval_table(self, evals: list[EpochRecord]) -> Html:
        rows = []
        for r in evals:
            ev = r.phase_eval
            assert ev is not None
            rand = ev.random
            rows.append([r.phase, ev.split or "–", fmt(_pct(ev.max)), fmt(_pct(ev.min)), fmt(_pct(ev.random_mean)),
                         f"{fmt(_pct(min(rand)))} – {fmt(_pct(max(rand)))}" if rand else "–", len(rand)])
        return table(["phase", "split", "max (%)", "min (%)", "random mean (%)", "random range (%)", "random n"], rows,
                     numeric=range(2, 7))
