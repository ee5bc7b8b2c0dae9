"""The search's final front as inline SVG charts, one per cost objective: hover a point for the subnet
(name, architecture, costs, validation and test top-1), click a fine-tuned or exported one to select
its row in the models table."""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from natv2.report.context import ReportContext
from natv2.report.html import Html, join, tag
from natv2.report.load import ModelRow
from natv2.search.record import EntryRecord, SearchRecord, subnet_key
from natv2.report.svg import Point, front_chart
from natv2.report.units import pct, unit_for

_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def model_ids(rows: Sequence[ModelRow]) -> list[str]:
    """The id of each models-table row: `model-<folder>`, where a folder name (which comes from the run's
    files) keeps only letters, digits, '.', '_' and '-', made unique so a point's link selects one row."""
    seen: set[str] = set()
    out = []
    for row in rows:
        base = "model-" + (_NOT_ID.sub("-", row.folder).strip("-") or "unnamed")
        anchor, n = base, 1
        while anchor in seen:
            n += 1
            anchor = f"{base}-{n}"
        seen.add(anchor)
        out.append(anchor)
    return out


def model_links(rows: Sequence[ModelRow], ids: Sequence[str]) -> dict[str, str]:
    """Canonical subnet key -> the id of its models-table row. The single-exit model wins over a multi-exit
    (AEP) one of the same subnet: the front's point is that single-exit subnet."""
    out: dict[str, str] = {}
    for row, anchor in sorted(zip(rows, ids), key=lambda pair: pair[0].variant != "single"):
        if row.config is not None:
            out.setdefault(subnet_key(row.config), anchor)
    return out


def architecture(config: Mapping[str, Any]) -> list[str]:
    """Resolution, width and exit, then per stage its depth, kernel sizes and expand ratios (only the layers
    the subnet runs, whatever its unused slots hold)."""
    try:
        from natv2.space import SubnetConfig

        cfg = SubnetConfig.from_dict(dict(config))
    except Exception:  # noqa: BLE001 - a foreign config is still shown, as written
        return [", ".join(f"{k}={v}" for k, v in config.items())]
    stages: dict[int, list[int]] = {}
    for stage, _, layer in cfg.active_layers():
        stages.setdefault(stage, []).append(layer)
    head = f"{cfg.r} px, width {cfg.w:g}, " + ("last stage" if cfg.nd is None else f"exit after stage {cfg.nd}")
    return [head] + [f"stage {s + 1}: depth {len(ix)}, kernels {[cfg.ks[i] for i in ix]}, "
                     f"expand {[cfg.e[i] for i in ix]}" for s, ix in stages.items()]


def point_title(e: EntryRecord, costs: Sequence[str], test: float | None, linked: bool) -> str:
    """The hover text of a subnet: name, architecture, every cost, validation (and test) top-1."""
    lines = [e.name, *architecture(e.config)]
    lines += [f"{unit_for(c).label}: {unit_for(c).format(e.costs.get(c))} {unit_for(c).unit}".rstrip() for c in costs]
    lines.append(f"top-1 val: {pct(e.acc)} %" + (f", test: {pct(test)} %" if test is not None else ""))
    if linked:
        lines.append("click: its row in the models table")
    return "\n".join(lines)


def final_front(search: SearchRecord) -> list[EntryRecord]:
    """The search's non-dominated subnets: its final set, else the last iteration's front (a running search)."""
    return list(search.final_front or (search.iterations[-1].front if search.iterations else []))


def _chart(entries: Sequence[EntryRecord], titles: Sequence[str], links: Sequence[str | None], cost: str) -> Html | None:
    """One cost's chart. Counts (params, MACs) are drawn raw with SI ticks (40k, 4M), others in their unit."""
    unit = unit_for(cost)
    points = [Point(e.costs[cost] if unit.si else unit.convert(e.costs[cost]), 100.0 * e.acc, title,
                    f"#{link}" if link else None)
              for e, title, link in zip(entries, titles, links) if cost in e.costs]
    if not points:
        return None
    return front_chart(points, unit.label if unit.si else unit.axis_label(), "top-1 val (%)",
                       f"final front: top-1 vs {unit.label}")


def front_charts(ctx: ReportContext, search: SearchRecord) -> Html | None:
    """The charts and their caption; None when there is no front or no cost to draw it against."""
    entries = final_front(search)
    if not entries or not search.costs:
        return None
    models = ctx.models_if_readable()
    rows = models.rows if models is not None else []
    by_key = model_links(rows, model_ids(rows))
    links = [by_key.get(subnet_key(e.config)) for e in entries]
    titles = [point_title(e, search.costs, search.test_of(e), link is not None) for e, link in zip(entries, links)]
    charts = [c for cost in search.costs if (c := _chart(entries, titles, links, cost)) is not None]
    caption = ("The final non-dominated subnets against each cost (a log scale where a cost spans more than a factor "
               "of 10). Hover a point for the subnet's name, architecture, costs and accuracy; a larger, orange point "
               "is a fine-tuned or exported model: click it to select its row in the models table.")
    return join([tag("div", charts, class_="svg-fronts"), tag("p", caption, class_="caption")])
