"""The search's final front as inline SVG charts, one per cost objective: hover a point for the subnet
(name, architecture, costs, validation and test top-1), click a fine-tuned or exported one to select
its row in the models table."""

from __future__ import annotations

from typing import Any, Mapping

from natv2.io import artifacts as A
from natv2.report.context import ReportContext
from natv2.report.html import Html, join, tag
from natv2.report.load import Entry, SearchData
from natv2.report.svg import Point, front_chart
from natv2.report.units import is_number, pct, unit_for


def model_anchor(name: str) -> str:
    """The id of a model's row in the models table (its folder name is already id-safe: [a-z0-9-])."""
    return f"model-{name}"


def architecture(config: Mapping[str, Any]) -> list[str]:
    """Resolution and exit, then per stage its depth, kernel sizes and expand ratios (active layers only)."""
    d, ks, e = list(config.get("d") or []), list(config.get("ks") or []), list(config.get("e") or [])
    nd = config.get("nd")
    lines = [f"{config.get('r')} px, " + ("last stage" if nd is None else f"exit after stage {nd}")]
    for s, depth in enumerate(d[: nd or len(d)]):
        layers = range(4 * s, 4 * s + int(depth))
        lines.append(f"stage {s + 1}: depth {depth}, kernels {[ks[i] for i in layers if i < len(ks)]}, "
                     f"expand {[e[i] for i in layers if i < len(e)]}")
    return lines


def _test_top1(ctx: ReportContext) -> dict[str, float]:
    """Test top-1 per subnet name, where the search measured its final front on the test split."""
    doc = ctx.files.json(A.REL_FINAL_TEST) if ctx.files.exists(A.REL_FINAL_TEST) else None
    entries = doc.get("entries") if isinstance(doc, dict) else None
    return {str(e["name"]): float(e["test_acc"]) for e in entries or []
            if isinstance(e, dict) and isinstance(e.get("name"), str) and is_number(e.get("test_acc"))}


def _title(e: Entry, costs: list[str], test: float | None, model: bool) -> str:
    lines = [e.name, *architecture(e.config)]
    lines += [f"{unit_for(c).label}: {unit_for(c).format(e.costs.get(c))} {unit_for(c).unit}".rstrip() for c in costs]
    lines.append(f"top-1 val: {pct(e.acc)} %" + (f", test: {pct(test)} %" if test is not None else ""))
    if model:
        lines.append("click: its row in the models table")
    return "\n".join(lines)


def front_charts(ctx: ReportContext, search: SearchData) -> Html | None:
    entries = list(search.final_front or (search.iterations[-1].front if search.iterations else []))
    if not entries or not search.costs:
        return None
    models = ctx.models_if_readable()
    linked = {r.name for r in models.rows if r.variant == "single"} if models is not None else set()
    test = _test_top1(ctx)
    charts = []
    for cost in search.costs:
        unit = unit_for(cost)
        points = [Point(unit.convert(e.costs[cost]), 100.0 * e.acc, _title(e, search.costs, test.get(e.name), e.name in linked),
                        f"#{model_anchor(e.name)}" if e.name in linked else None) for e in entries if cost in e.costs]
        charts.append(front_chart(points, unit.axis_label(), "top-1 val (%)", f"final front, top-1 vs {unit.label}"))
    caption = ("The final non-dominated subnets against each cost. Hover a point for the subnet's name, architecture, "
               "costs and accuracy; a larger point is a fine-tuned or exported model: click it to select its row in "
               "the models table.")
    return join([tag("div", charts, class_="svg-fronts"), tag("p", caption, class_="caption")])
