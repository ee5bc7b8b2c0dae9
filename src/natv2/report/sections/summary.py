"""Run summary: what was run (dataset, supernet, recipe, search policy, seed), which stages finished and
how long they took, and the full resolved config."""

from __future__ import annotations

from typing import Any

from natv2.io.artifacts import CONFIG_FILE, EVENTS_FILE, STAGE_FILES
from natv2.report.context import ReportContext, SectionResult
from natv2.report.html import Html, definition_list, join, note, table, tag
from natv2.report.load import StageTiming
from natv2.report.units import duration, is_number, unit_for
from natv2.io.source_record import describe_source, read_source_record
from natv2.search.record import SearchSettings

# Stages in pipeline order, with the files that show their output when the event log does not.
STAGES = tuple((name, title, STAGE_FILES[name]) for name, title in (
    ("train", "supernet training"), ("search", "search"), ("finetune", "fine-tuning"), ("export", "export")))


def _join_nonempty(parts: list[str]) -> str:
    return ", ".join(p for p in parts if p)


class SummarySection:
    id = "summary"
    title = "Run summary"
    missing = ""

    def build(self, ctx: ReportContext) -> SectionResult | None:
        info = ctx.run_info()
        cfg = info.config or {}
        facts = self._facts(ctx, cfg)
        parts: list[Html] = []
        if info.config is None:
            parts.append(note(f"This run directory has no {CONFIG_FILE}: the settings below come from the stage outputs only.",
                              "warn"))
        parts.append(definition_list(facts))
        parts.append(tag("h3", "Stages", id="stages"))
        parts.append(self._stages(ctx, info.stages))
        subs = [("stages", "Stages")]
        if info.config_changes:
            parts.append(tag("h3", "Settings changed on resume", id="config-changes"))
            parts.append(self._config_changes(info.config_changes))
            subs.append(("config-changes", "Settings changed on resume"))
        if info.config_text is not None:
            parts.append(tag("details", tag("summary", f"Full resolved config ({CONFIG_FILE})"),
                             tag("pre", info.config_text, class_="config")))
        return SectionResult(join(parts), subs)

    @staticmethod
    def _config_changes(events: list[dict[str, Any]]) -> Html:
        """The settings a resume changed. A run directory's config.yaml is always the config its results
        were computed with: a change is taken only where no stage holding results depends on it."""
        rows = [(str(e.get("ts") or "")[:19].replace("T", " "), str(c.get("key")), repr(c.get("old")), repr(c.get("new")),
                 str(e.get("reason") or "")) for e in events for c in e["changes"]]
        return join([note("These settings were changed when the run was resumed. Each was accepted only because no "
                          "stage that already held results depends on it, so every result here was computed with the "
                          "config shown below."),
                     table(["when", "setting", "before", "after", "allowed by"], rows)])

    # ------------------------------------------------------------------ facts
    def _facts(self, ctx: ReportContext, cfg: dict[str, Any]) -> list[tuple[str, Any]]:
        info = ctx.run_info()
        facts: list[tuple[str, Any]] = [("run", ctx.files.root.resolve().name)]
        if info.created is not None:
            facts.append(("started", info.created.strftime("%Y-%m-%d %H:%M:%S %Z").strip()))
        data = cfg.get("data") if isinstance(cfg.get("data"), dict) else {}
        if data:
            sizes = _join_nonempty([
                f"train subset {data['train_subset']:,}" if is_number(data.get("train_subset")) else "",
                f"validation {data['val_size']:,}" if is_number(data.get("val_size")) else "",
                f"batch {data['batch_size']}" if is_number(data.get("batch_size")) else "",
            ])
            facts.append(("dataset", f"{data.get('name', '?')}" + (f" ({sizes})" if sizes else "")))
        facts += self._supernet_facts(ctx, cfg)
        facts += self._search_facts(ctx, cfg)
        ft = cfg.get("finetune") if isinstance(cfg.get("finetune"), dict) else {}
        if ft:
            facts.append(("fine-tuning", _join_nonempty([
                f"select {ft.get('select')}" if ft.get("select") else "",
                f"variants {', '.join(map(str, ft.get('variants') or []))}" if ft.get("variants") else "",
                f"up to {ft.get('max_epochs')} epochs, patience {ft.get('patience')}" if ft.get("max_epochs") else "",
            ])))
        run = cfg.get("run") if isinstance(cfg.get("run"), dict) else {}
        if run:
            facts.append(("seed", run.get("seed")))
            facts.append(("device", _join_nonempty([str(run.get("device") or ""),
                                                    f"{run['threads']} thread{'s' if run['threads'] != 1 else ''}" if run.get("threads") else ""])))
        return facts

    def _supernet_facts(self, ctx: ReportContext, cfg: dict[str, Any]) -> list[tuple[str, Any]]:
        train = cfg.get("train") if isinstance(cfg.get("train"), dict) else {}
        try:
            training = ctx.training()
        except Exception:  # noqa: BLE001 - reported by the training section
            training = None
        meta = training.meta if training is not None else None
        name = (meta.supernet if meta else None) or train.get("supernet")
        if not name:
            return []
        bits = [f"width ×{train.get('width_mult')}" if train.get("width_mult") else "",
                f"{meta.n_classes} classes" if meta and meta.n_classes else ""]
        out: list[tuple[str, Any]] = [("supernet", f"{name}" + (f" ({_join_nonempty(bits)})" if _join_nonempty(bits) else ""))]
        record = read_source_record(ctx.files.root)
        if record is not None:
            out.append(("transfer source", describe_source(record)))
        stage = cfg.get("search_stage") if isinstance(cfg.get("search_stage"), dict) else {}
        if training is None and stage.get("supernet"):
            # Imported, not trained here: the `train` section describes nothing that happened in this run.
            out.append(("supernet source", f"given checkpoint {stage['supernet']} (not trained in this run)"))
        elif train:
            out.append(("training recipe", _join_nonempty([
                f"recipe {train.get('recipe')}" if train.get("recipe") else "",
                f"teacher {train.get('teacher')}" if train.get("teacher") else "",
                f"epochs ×{train.get('epochs_scale')}" if train.get("epochs_scale") not in (None, 1, 1.0) else "",
            ])))
        return out

    def _search_facts(self, ctx: ReportContext, cfg: dict[str, Any]) -> list[tuple[str, Any]]:
        search = ctx.search_if_readable()
        s = search.settings if search is not None else None
        if s is None:  # the search has not recorded its settings (yet): the run's config says what it runs with
            s = SearchSettings.from_dict(cfg.get("search"))
        if s is None:
            return []
        objectives = list(search.objectives) if search is not None else list(s.objectives)
        return [("search", _join_nonempty([
            f"policy {s.policy}" if s.policy else "",
            "objectives " + " · ".join("top-1 error" if o == "err" else unit_for(o).label for o in objectives)
            if objectives else "",
            f"{s.iterations} iterations × {s.candidates_per_iter} candidates" if s.iterations is not None else "",
            f"archive {s.archive_size}" if s.archive_size else "",
            f"surrogate {s.surrogate}" if s.surrogate and s.candidate_source != "random" else "",
        ]))]

    # ------------------------------------------------------------------ stages
    def _stages(self, ctx: ReportContext, timings: list[StageTiming]) -> Html:
        by_name = {t.stage: t for t in timings}
        rows, classes = [], []
        compute = self._compute_times(ctx)
        names = [s[0] for s in STAGES] + [t.stage for t in timings if t.stage not in {s[0] for s in STAGES}]
        labels = {s[0]: s[1] for s in STAGES}
        markers = {s[0]: s[2] for s in STAGES}
        for name in names:
            t = by_name.get(name)
            has_files = any(ctx.files.exists(rel) for rel in markers.get(name, ()))
            if t is not None and t.done:
                status, cls = "done", "ok"
            elif t is not None:
                status, cls = "started, not finished", "warn"
            elif has_files:
                status, cls = "outputs present (no events)", None
            else:
                status, cls = "not run", "muted"
            rows.append([
                labels.get(name, name),
                tag("span", status, class_=f"status {cls or ''}".strip()),
                duration(t.seconds) if t is not None and t.seconds > 0 else "–",
                compute.get(name, "–"),
                t.sessions if t is not None else "–",
                t.last.strftime("%Y-%m-%d %H:%M:%S") if t is not None and t.last is not None else "–",
            ])
            classes.append("muted" if status == "not run" else None)
        return join([
            table(["stage", "status", "wall time (events)", "compute (stage logs)", "sessions", "last event"], rows,
                  numeric=(2, 3, 4), row_classes=classes),
            tag("p", f"Wall time is read from {EVENTS_FILE}: the time between consecutive events of one command is "
                     "charged to the stage that logged the later one, summed over resumed sessions. Compute is what "
                     "the stage itself timed (training epochs, search steps, fine-tuning jobs).", class_="caption"),
        ])

    def _compute_times(self, ctx: ReportContext) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            training = ctx.training()
            if training is not None:
                secs = [r.train_s for r in training.records if r.train_s is not None]
                if secs:
                    out["train"] = duration(sum(secs)) + " train"
        except Exception:  # noqa: BLE001
            pass
        search = ctx.search_if_readable()
        if search is not None and search.iterations:
            total = sum(v for it in search.iterations for v in it.stats.timings.values())
            out["search"] = duration(total)
        try:
            models = ctx.models()
            if models is not None and models.has_finetune:
                secs = [r.finetune.seconds_total for r in models.rows if r.finetune is not None]
                secs = [s for s in secs if is_number(s)]
                if secs:
                    out["finetune"] = f"{duration(sum(secs))} ({len(secs)} jobs)"
        except Exception:  # noqa: BLE001
            pass
        return out

