"""`natv2 run`: the whole pipeline on one run directory, resumable stage by stage.

    train-supernet -> search -> finetune -> export -> report

Each stage is a `Stage` (name, title, runner) in `STAGES`; the driver runs them in order and records
`done` in the run directory's events after each, so running the same command again skips finished
stages and resumes the unfinished one where it stopped (every stage is resumable on its own). A
supernet given with `search_stage.supernet` (a natv2 checkpoint) replaces the training stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

Log = Callable[[str], None]


@dataclass(frozen=True)
class StageContext:
    """What a stage runner gets: the resolved config, the open (locked) run directory, a logger."""

    config: Any  # natv2.pipeline.config.RunConfig
    run: Any  # natv2.io.rundir.RunDir
    dist: Any  # natv2.train.dist.DistContext
    log: Log

    def events(self, stage: str) -> Callable[[str, dict[str, Any]], None]:
        return lambda kind, data: self.run.log_event(stage, kind, **data)


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    runner: Callable[[StageContext], str]  # returns a one-line summary
    marks_done_itself: bool = False
    # Derived from the other stages' files and cheap (the report): rebuilt on every run, and kept out
    # of the events so that what it reads about the run is complete when it reads it.
    derived: bool = False

    def skipped_because(self, ctx: StageContext) -> str | None:
        """A reason to skip this stage for this config (not for being done), or None."""
        if self.name == "train" and ctx.config.search_stage.supernet:
            return f"using the given supernet {ctx.config.search_stage.supernet}"
        return None


def _train(ctx: StageContext) -> str:
    from natv2.train.run import train_supernet

    result = train_supernet(ctx.config, ctx.run.path, dist=ctx.dist, resume=True, events=ctx.events("train"))
    return f"trained supernet: {result.weights_path}"


def _search(ctx: StageContext) -> str:
    from natv2.search.stage import format_final, run_search_stage

    out = run_search_stage(ctx.config, ctx.run.path, dist=ctx.dist, log=ctx.log, events=ctx.events("search"))
    res = out.result
    table = format_final(out.final_test)
    if table:
        ctx.log("final subnets (* = high-trade-off pick):\n" + "\n".join(table))
    return (f"archive {len(res.archive)}, non-dominated {len(res.front)}, picks {len(res.high_tradeoff)}, "
            f"final HV {res.stats[-1]['hv']:.4f}" if res.stats else f"archive {len(res.archive)}")


def _finetune(ctx: StageContext) -> str:
    from natv2.finetune.stage import run_finetune_stage

    summary = run_finetune_stage(ctx.run, ctx.config, log=ctx.log)
    return f"fine-tuned {len(summary['subnets'])} subnet(s) -> {ctx.run.models_dir}"


def _export(ctx: StageContext) -> str:
    from natv2.export.stage import run_export_stage

    summary = run_export_stage(ctx.run, ctx.config, log=ctx.log)
    return f"exported {len(summary['models'])} model(s) -> {ctx.run.models_dir}"


def _report(ctx: StageContext) -> str:
    from natv2.report import build_report

    index = build_report(ctx.run.path)
    return f"report: {index}"


STAGES: tuple[Stage, ...] = (
    Stage("train", "train the supernet (full net, then progressive shrinking)", _train),
    Stage("search", "search (archive, surrogate, NSGA, adaptation)", _search),
    Stage("finetune", "two-step fine-tuning of the chosen subnets", _finetune, marks_done_itself=True),
    Stage("export", "export (safetensors + JSON, TorchScript, ONNX)", _export, marks_done_itself=True),
    Stage("report", "HTML report", _report, derived=True),
)


def stage_names() -> list[str]:
    return [s.name for s in STAGES]


def run_pipeline(ctx: StageContext, stages: Sequence[Stage] = STAGES) -> dict[str, str]:
    """Run every stage not yet done; return stage -> summary line."""
    summaries: dict[str, str] = {}
    total = len(stages)
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{total}] {stage.name}: {stage.title}"
        if ctx.run.is_done(stage.name) and not stage.derived:
            ctx.log(f"{head} - already done, skipped")
            summaries[stage.name] = "done earlier"
            continue
        reason = stage.skipped_because(ctx)
        if reason:
            ctx.log(f"{head} - skipped: {reason}")
            summaries[stage.name] = f"skipped ({reason})"
            continue
        ctx.log(head)
        if not stage.derived:
            ctx.run.log_event(stage.name, "start")
        t0 = time.perf_counter()
        summary = stage.runner(ctx)
        seconds = time.perf_counter() - t0
        if not (stage.marks_done_itself or stage.derived):
            ctx.run.mark_done(stage.name, seconds=round(seconds, 2))
        ctx.log(f"    {summary}  ({_fmt_seconds(seconds)})")
        summaries[stage.name] = summary
    return summaries


def _fmt_seconds(s: float) -> str:
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s" if m else f"{s:.1f}s"


def where_things_are(run_path: Path) -> list[str]:
    """The closing lines: where the report and the models are."""
    lines = [f"run directory: {run_path}"]
    index = run_path / "report" / "index.html"
    if index.is_file():
        lines.append(f"report:        {index}")
    models = run_path / "models"
    if models.is_dir():
        lines.append(f"models:        {models}  (load one with natv2.load_model(PATH))")
    return lines
