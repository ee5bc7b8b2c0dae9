"""Final models: inherited vs fine-tuned accuracy, costs, latency with its conditions, links to the files."""

from __future__ import annotations

import shlex
from typing import Any

from natv2.io import artifacts as A
from natv2.report import figures
from natv2.report.context import ReportContext, SectionResult
from natv2.report.html import Html, figure, join, note, table, tag
from natv2.report.load import EXPORT_SUMMARY, FINETUNE_SUMMARY, ModelRow, ModelsData
from natv2.report.sections.front_svg import model_ids
from natv2.report.sections.int8 import int8_table
from natv2.report.sections.search import exit_label
from natv2.report.units import fmt, is_number, mega, pct, signed_pp
from natv2.search.record import SearchRecord, subnet_key

VARIANTS = {"single": "single exit", "multi_exit": "multi-exit (AEP)"}


def _top1(results: Any, split: str) -> float | None:
    r = (results or {}).get(split) if isinstance(results, dict) else None
    return float(r["top1"]) if isinstance(r, dict) and is_number(r.get("top1")) else None


def accuracies(row: ModelRow, split: str) -> tuple[float | None, float | None]:
    """(inherited, fine-tuned) top-1 on `split`, from the fine-tune result, else the export metadata."""
    before = after = None
    if row.finetune is not None:
        before, after = _top1(row.finetune.before, split), _top1(row.finetune.after, split)
    acc = (row.export.accuracy if row.export else None) or (row.meta.accuracy if row.meta else None)
    if isinstance(acc, dict) and acc.get("split") == split and is_number(acc.get("top1")):
        if acc.get("weights") == "inherited" and before is None:
            before = float(acc["top1"])
        elif acc.get("weights") != "inherited" and after is None:
            after = float(acc["top1"])
            if before is None and is_number(acc.get("before_finetune")):
                before = float(acc["before_finetune"])
    return before, after


def report_split(rows: list[ModelRow]) -> str:
    """The split the table shows: test when any model has it (measured once, at the end), else validation."""
    return "test" if any(any(a is not None for a in accuracies(r, "test")) for r in rows) else "val"


def _cost(row: ModelRow, key: str) -> float | None:
    if row.finetune is not None and key in ("params", "macs"):
        return float(getattr(row.finetune, key))
    value = getattr(row.export, key, None) if row.export is not None else None
    if not is_number(value):
        value = getattr(row.meta, key, None) if row.meta is not None else None
    return float(value) if is_number(value) else None


def predict_command(ctx: ReportContext, row: ModelRow) -> str:
    """The shell command that classifies images with an exported model: its folder, absolute and quoted, so
    it can be pasted from anywhere (a published copy shows the run's folder by name)."""
    folder = ctx.files.root.resolve() / A.MODELS_DIR / row.folder
    return f"natv2 predict {shlex.quote(str(folder))} IMAGE"


def _files_cell(ctx: ReportContext, row: ModelRow) -> Html | str:
    """Links to the model's files, and for an exported model its folder and the command that classifies with it."""
    cell = [ctx.links(list(row.files.items()))] if row.files else ["–"]
    if row.export is not None:
        cell.append(tag("span", "folder ", tag("code", f"{A.MODELS_DIR}/{row.folder}/"), class_="sub"))
        cell.append(tag("span", tag("code", predict_command(ctx, row)), class_="sub"))
    return join(cell)


def _latency(row: ModelRow) -> dict[str, Any] | None:
    lat = row.meta.latency if row.meta else None
    if isinstance(lat, dict) and is_number(lat.get("median_ms")):
        return lat
    ms = row.export.latency_ms if row.export else None
    return {"median_ms": ms} if is_number(ms) else None


def latency_conditions(lat: dict[str, Any]) -> str:
    bits = [str(lat.get("device_name") or lat.get("device") or "")]
    if lat.get("batch_size") is not None:
        bits.append(f"batch {lat['batch_size']}")
    if lat.get("threads") is not None:
        bits.append(f"{lat['threads']} thread{'s' if lat['threads'] != 1 else ''}")
    if lat.get("resolution") is not None:
        bits.append(f"{lat['resolution']} px")
    if lat.get("runs") is not None:
        bits.append(f"median of {lat['runs']} runs")
    return ", ".join(b for b in bits if b)


def _describe(row: ModelRow) -> str:
    """Variant and where it classifies: 'single exit, stage 3', 'multi-exit (AEP), stages 1–3'."""
    exits = (row.finetune.exits if row.finetune else None) or (row.meta.exits if row.meta else None)
    if row.variant == "multi_exit" and exits:
        return f"{VARIANTS['multi_exit']}, exits after stages {exits[0]}–{exits[-1]}"
    where = exit_label(row.config)
    return f"{VARIANTS.get(row.variant, row.variant)}, " + ("last stage" if where == "last stage" else f"exit after {where}")


def _search_accuracy(row: ModelRow, search: SearchRecord | None) -> float | None:
    acc = row.finetune.search.get("accuracy") if row.finetune else None
    if is_number(acc):
        return float(acc)
    if search is not None and row.config is not None:
        key = subnet_key(row.config)
        for e in (search.final_front or []) + [e for it in search.iterations[-1:] for e in it.archive]:
            if subnet_key(e.config) == key:
                return e.acc
    return None


class ModelsSection:
    id = "models"
    title = "Final models"
    missing = f"no {FINETUNE_SUMMARY} or {EXPORT_SUMMARY}: the chosen subnets were not fine-tuned or exported here"

    def build(self, ctx: ReportContext) -> SectionResult | None:
        data = ctx.models()
        if data is None:
            return None
        search = ctx.search_if_readable()
        if not data.rows:
            return SectionResult(note("The fine-tune / export summaries list no models.", "warn"))
        split = report_split(data.rows)
        parts = [self._table(ctx, data, search, split)]
        subs: list[tuple[str, str]] = []
        int8 = int8_table(data.rows)
        if int8 is not None:
            parts += [tag("h3", "INT8 deployment", id="models-int8"), int8]
            subs.append(("models-int8", "INT8"))
        shift = self._shift_figure(ctx, data, split)
        if shift is not None:
            parts.append(tag("h3", "Before and after fine-tuning", id="models-shift"))
            subs.append(("models-shift", "Before vs after"))
            parts.append(shift)
        if data.skipped:
            parts.append(note("Skipped: " + "; ".join(f"{s.name} ({s.variant}): {s.reason}"
                                                     for s in data.skipped), "info"))
        return SectionResult(join(parts), subs)

    def _table(self, ctx: ReportContext, data: ModelsData, search: SearchRecord | None, split: str) -> Html:
        headers = ["#", "", "model", "search top-1 val (%)", f"inherited {split} (%)", f"fine-tuned {split} (%)",
                   "Δ (pp)", "E*", "params (M)", "MACs (M)", "latency (ms)", "export max |Δ|", "files"]
        lats = [lat for r in data.rows if (lat := _latency(r)) is not None]
        conditions = {latency_conditions(lat) for lat in lats}
        shared = len(conditions) == 1
        rows, classes = [], []
        n_picks = 0
        for k, row in enumerate(data.rows, start=1):
            before, after = accuracies(row, split)
            pick = search is not None and row.config is not None and search.is_pick(row.config)
            n_picks += pick
            lat = _latency(row)
            lat_cell: Any = fmt(lat["median_ms"]) if lat else "–"
            if lat and not shared:
                lat_cell = join([fmt(lat["median_ms"]), tag("span", latency_conditions(lat), class_="sub")])
            diff = row.export.max_abs_diff if row.export else None
            res = (row.config or {}).get("r") or (row.finetune.resolution if row.finetune else None) or (row.meta.resolution if row.meta else None)
            rows.append([
                k, tag("span", "★", class_="pick-badge", title="high trade-off pick of the search") if pick else "",
                join([tag("code", row.name),
                      tag("span", f"{res} px · " if res else "", _describe(row), class_="sub")]),
                pct(_search_accuracy(row, search)), pct(before), pct(after),
                signed_pp(after - before) if before is not None and after is not None else "–",
                row.finetune.e_star if row.finetune and row.finetune.e_star is not None else "–",
                mega(_cost(row, "params")), mega(_cost(row, "macs"), 1), lat_cell,
                f"{diff:.1e}" if is_number(diff) else "–",
                _files_cell(ctx, row),
            ])
            classes.append("pick" if pick else None)
        notes: list[Any] = []
        if shared and lats:
            notes.append(f"Latency: {next(iter(conditions))}.")
        if data.has_finetune:
            notes.append(f"Accuracy on the {split} split, measured once after all training (E* chosen on the validation "
                         "split; the test split never feeds a choice). Inherited = the subnet with supernet weights, BN "
                         "recalibrated; Δ = fine-tuned − inherited.")
        if data.has_export and is_number(data.tolerance):
            notes.append(f"Export max |Δ|: largest difference between the PyTorch model and any exported file's output "
                         f"(tolerance {data.tolerance:g}).")
        if n_picks:
            notes.append("★ high trade-off pick of the search.")
        summaries = [(label, rel) for label, rel, ok in ((FINETUNE_SUMMARY, FINETUNE_SUMMARY, data.has_finetune),
                                                         (EXPORT_SUMMARY, EXPORT_SUMMARY, data.has_export)) if ok]
        return join([table(headers, rows, numeric=range(3, 12), row_classes=classes, row_ids=model_ids(data.rows),
                           class_="data models", column_classes={12: "files"}),
                     tag("p", " ".join(notes), " Summaries: ", ctx.links(summaries), class_="caption")])

    def _shift_figure(self, ctx: ReportContext, data: ModelsData, split: str) -> Html | None:
        cost_key = "macs" if any(_cost(r, "macs") is not None for r in data.rows) else "params"
        items = []
        for k, row in enumerate(data.rows, start=1):
            before, after = accuracies(row, split)
            cost = _cost(row, cost_key)
            if after is not None and cost is not None:
                items.append((f"#{k}", cost / 1e6, None if before is None else 100 * before, 100 * after))
        if not items or all(it[2] is None for it in items):
            return None
        label = "MACs (M)" if cost_key == "macs" else "params (M)"
        path = figures.finetune_shift(items, label, ctx.figure_path("finetune_shift"), split)
        aep = " Multi-exit (AEP) models count their extra exits in their costs." if any(
            r.variant == "multi_exit" for r in data.rows) else ""
        return figure(ctx.src(path), "accuracy before and after fine-tuning",
                      f"{split.capitalize()} top-1 with inherited weights (hollow) and after fine-tuning (filled), per "
                      f"model (numbers as in the table).{aep}")
