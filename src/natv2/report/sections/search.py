"""Search: the Pareto front of every iteration on fixed axes, hypervolume, surrogate quality, final front."""

from __future__ import annotations

from typing import Any, Sequence

from natv2.report import figures
from natv2.report.context import ReportContext, SectionResult
from natv2.report.html import Html, figure, join, note, table, tag
from natv2.report.sections.front_svg import front_charts
from natv2.report.units import duration, fmt, is_number, pct, unit_for
from natv2.search.record import CONFIG, FRONT, PICKS, EntryRecord, IterationRecord, SearchRecord, SearchSettings

MAX_PANELS = 16  # small multiples beyond this show evenly spaced iterations (first and last always)


def shown_iterations(iterations: Sequence[IterationRecord], limit: int = MAX_PANELS) -> list[IterationRecord]:
    if len(iterations) <= limit:
        return list(iterations)
    step = (len(iterations) - 1) / (limit - 1)
    picks = sorted({round(i * step) for i in range(limit)})
    return [iterations[i] for i in picks]


def _point(e: EntryRecord, objective: str) -> tuple[float, float]:
    return unit_for(objective).convert(e.costs[objective]), 100.0 * e.acc


def fixed_limits(search: SearchRecord, objective: str) -> figures.Limits:
    """One (cost, accuracy) box holding every archive member of every iteration and the final front."""
    entries = [e for it in search.iterations for e in it.archive + it.front] + list(search.final_front or [])
    pts = [_point(e, objective) for e in entries]
    return figures.Limits(figures.padded([p[0] for p in pts]), figures.padded([p[1] for p in pts]))


def _surrogate(it: IterationRecord, key: str) -> float | None:
    return getattr(it.stats.surrogate, key)


def _settings(search: SearchRecord) -> SearchSettings:
    return search.settings or SearchSettings()


class SearchSection:
    id = "search"
    title = "Search"
    missing = f"no search/iter_*/ or {FRONT}: the search has not run here"

    def build(self, ctx: ReportContext) -> SectionResult | None:
        search = ctx.search()
        if search is None:
            return None
        parts: list[Html] = []
        subs: list[tuple[str, str]] = []
        if search.iterations:
            parts.append(tag("h3", "Pareto front per iteration", id="search-fronts"))
            subs.append(("search-fronts", "Pareto fronts"))
            parts.append(self._fronts(ctx, search))
            parts.append(tag("h3", "Hypervolume", id="search-hv"))
            subs.append(("search-hv", "Hypervolume"))
            parts.append(self._hypervolume(ctx, search))
            parts.append(tag("h3", "Surrogate quality", id="search-surrogate"))
            subs.append(("search-surrogate", "Surrogate quality"))
            parts.append(self._surrogate_quality(ctx, search))
            parts.append(tag("h3", "Iterations", id="search-iterations"))
            subs.append(("search-iterations", "Iterations"))
            parts.append(self._iteration_table(search))
        else:
            parts.append(note("No per-iteration outputs (search/iter_*/) were found; only the final front is shown.",
                              "warn"))
        if search.final_front is not None:
            parts.append(tag("h3", "Final non-dominated subnets", id="search-final"))
            subs.append(("search-final", "Final front"))
            charts = front_charts(ctx, search) if not search.iterations else None
            if charts is not None:  # no per-iteration figures above: the interactive front goes here
                parts.append(charts)
            parts.append(self._final_table(ctx, search))
        return SectionResult(join(parts), subs)

    # ------------------------------------------------------------------ fronts
    def _fronts(self, ctx: ReportContext, search: SearchRecord) -> Html:
        if not search.costs:
            return note("The search had a single objective (error), so there is no trade-off to plot.", "info")
        if not any(it.archive for it in search.iterations):
            return note("The iteration archives are empty, so there is no front to plot.", "info")
        charts = front_charts(ctx, search)
        parts: list[Html] = [charts] if charts is not None else []
        last = search.iterations[-1].index
        picks = list(search.picks or [])
        for objective in search.costs:
            unit = unit_for(objective)
            limits = fixed_limits(search, objective)
            fronts = [(it.index, [_point(e, objective) for e in it.front]) for it in search.iterations]
            final = [_point(e, objective) for e in (search.final_front or [])]
            pick_pts = [(f"P{k}", *_point(e, objective)) for k, e in enumerate(picks, start=1)]
            overlay = figures.front_overlay(fronts, final, pick_pts, limits, unit.axis_label(),
                                            ctx.figure_path(f"front_{objective}_overlay"))
            shown = shown_iterations(search.iterations)
            panels = [figures.FrontPanel(it.index, [_point(e, objective) for e in it.archive],
                                         [_point(e, objective) for e in it.front],
                                         f"HV {fmt(it.stats.hv, 3)}" if it.stats.hv is not None else "")
                      for it in shown]
            grid = figures.front_grid(panels, limits, unit.axis_label(), ctx.figure_path(f"front_{objective}_grid"), last)
            subset = "" if len(shown) == len(search.iterations) else (
                f" ({len(shown)} of {len(search.iterations)} iterations shown, evenly spaced)")
            parts.append(tag("div", figure(ctx.src(overlay), f"fronts of every iteration, top-1 vs {unit.label}",
                                           f"Top-1 vs {unit.axis_label()}: each iteration's front as a staircase "
                                           "(colour: iteration); circles: final non-dominated set; stars: high "
                                           "trade-off picks (P1 = largest trade-off)."),
                             figure(ctx.src(grid), f"archive and front per iteration, top-1 vs {unit.label}",
                                    f"Archive (grey) and front (colour) per iteration{subset}. All panels share the "
                                    "same axes, so fronts compare directly."),
                             class_="figs"))
        parts.append(tag("p", "Accuracy is the search's own top-1 on the validation split (inherited supernet weights, "
                              "BN recalibrated). Fronts are non-dominated in all objectives at once, so in one cost "
                              "plane some front members sit below the staircase.", class_="caption"))
        return join(parts)

    # ------------------------------------------------------------------ hypervolume
    def _hypervolume(self, ctx: ReportContext, search: SearchRecord) -> Html:
        its = [it for it in search.iterations if it.stats.hv is not None]
        if not its:
            return note("The iteration statistics hold no hypervolume.", "info")
        ref = _settings(search).hv_ref
        bounds = _settings(search).hv_bounds
        m = len(search.objectives)
        path = figures.hv_curve([it.index for it in its], [it.stats.hv for it in its],
                                ctx.figure_path("hypervolume"), "hypervolume (normalised)")
        rows = []
        for name in search.objectives:
            b = bounds.get(name)
            if name == "err":
                rows.append(["top-1 error", "%", pct(b[0]) if b else "–", pct(b[1]) if b else "–"])
            else:
                u = unit_for(name)
                rows.append([u.label, u.unit or "–", u.format(b[0]) if b else "–", u.format(b[1]) if b else "–"])
        ref_text = (f"Reference point: {fmt(ref, 2)} in every normalised objective, so the largest possible value "
                    f"is {fmt(ref, 2)}^{m} = {fmt(ref ** m, 3)}." if is_number(ref) else "Reference point: not recorded.")
        return join([
            tag("div", figure(ctx.src(path), "hypervolume per iteration",
                              "Hypervolume of each iteration's archive front. Objectives are normalised with FIXED "
                              "bounds, (f − ideal) / (nadir − ideal), the same for every iteration (and every run with "
                              "these bounds), so the values compare."),
                tag("div", table(["objective", "unit", "ideal", "nadir"], rows, numeric=(2, 3),
                                 caption="normalisation bounds"), tag("p", ref_text, class_="caption"), class_="aside"),
                class_="figs"),
        ])

    # ------------------------------------------------------------------ surrogate
    def _surrogate_quality(self, ctx: ReportContext, search: SearchRecord) -> Html:
        its = search.iterations
        if not any(_surrogate(it, "kendall") is not None or _surrogate(it, "rmse") is not None for it in its):
            source = _settings(search).candidate_source
            why = ("the candidates were drawn at random (candidate_source=random), so no surrogate was fitted"
                   if source == "random" else "the iteration statistics hold no surrogate metrics")
            return note(f"No surrogate quality to show: {why}.", "info")
        idx = [it.index for it in its]
        path = figures.surrogate_curves(idx, [_surrogate(it, "kendall") for it in its],
                                        [_surrogate(it, "spearman") for it in its],
                                        [_surrogate(it, "rmse") for it in its], ctx.figure_path("surrogate"))
        name = _settings(search).surrogate
        return figure(ctx.src(path), "surrogate rank correlation and RMSE per iteration",
                      f"Surrogate{f' ({name})' if name else ''} quality, out of sample: fitted on the archive before the "
                      "iteration, scored on the candidates it then proposed, against their measured top-1 error. "
                      "Rank correlation is what the search relies on; RMSE is in percentage points.")

    def _iteration_table(self, search: SearchRecord) -> Html:
        rows = []
        for it in search.iterations:
            s = it.stats
            rows.append([it.index, _or(s.n_archive, len(it.archive)), _or(s.n_front, len(it.front)),
                         _or(s.n_evaluations, "–"), pct(1.0 - s.best_err) if s.best_err is not None else "–",
                         fmt(s.hv, 4), fmt(_surrogate(it, "kendall"), 3), fmt(_surrogate(it, "spearman"), 3),
                         fmt(_surrogate(it, "rmse"), 2), "yes" if s.adapted else "",
                         duration(sum(s.timings.values())) if s.timings else "–"])
        return table(["iteration", "archive", "front", "evaluations", "best top-1 (%)", "HV", "Kendall τ", "Spearman ρ",
                      "RMSE (pp)", "adapted", "time"], rows, numeric=range(0, 9))

    # ------------------------------------------------------------------ final front
    def _final_table(self, ctx: ReportContext, search: SearchRecord) -> Html:
        front = sorted(search.final_front or [], key=lambda e: -e.acc)
        pick_rank = {}
        for k, p in enumerate(search.picks or [], start=1):
            pick_rank.setdefault(p.name, k)
        headers = ["", "subnet", "res. (px)", "exit", "top-1 val (%)"] + [unit_for(o).axis_label() for o in search.costs] + [
            "found in iteration"]
        rows, classes = [], []
        for e in front:
            k = pick_rank.get(e.name)
            rows.append([tag("span", f"★ P{k}", class_="pick-badge") if k else "", tag("code", e.name),
                         e.config.get("r", "–"), exit_label(e.config), pct(e.acc)]
                        + [unit_for(o).format(e.costs.get(o)) for o in search.costs] + [e.iteration])
            classes.append("pick" if k else None)
        links = [(FRONT, FRONT)] + ([(PICKS, PICKS)] if search.picks is not None else [])
        if ctx.files.exists(CONFIG):
            links.append((CONFIG, CONFIG))
        return join([
            table(headers, rows, numeric=[2, *range(4, len(headers))], row_classes=classes),
            tag("p", f"{len(front)} subnets, most accurate first. ",
                f"★ marks the {len(pick_rank)} high trade-off picks (P1 = largest trade-off). " if pick_rank else "",
                "Files: ", ctx.links([(label, rel) for rel, label in links]), class_="caption"),
        ])


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def exit_label(config: dict[str, Any] | None) -> str:
    """Where the subnet classifies: an early exit after stage nd, or the last stage."""
    nd = (config or {}).get("nd")
    return "last stage" if nd is None else f"stage {nd}"
