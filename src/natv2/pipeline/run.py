"""`natv2 run`: the whole pipeline on one run directory, resumable stage by stage.

    train-supernet -> search -> finetune -> export -> report

Each stage is a `Stage` (name, title, runner) in `STAGES`; the driver runs them in order and records
`done` in the run directory's events after each, so running the same command again skips finished
stages and resumes the unfinished one where it stopped (every stage is resumable on its own). A
supernet given with `search_stage.supernet` (a natv2 checkpoint) replaces the training stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from natv2.io.artifacts import CONFIG_FILE
from natv2.stage import Log, Outcome, StageContext, StageRun  # noqa: F401 - Log, Outcome: re-exported


def _never(ctx: StageContext) -> str | None:
    return None


@dataclass(frozen=True)
class Stage:
    """One pipeline stage. The driver (`run_pipeline`) alone sets threads, writes the `start` and `done`
    events and times the stage; the runner does the stage's work and returns an `Outcome`."""

    name: str
    title: str
    runner: StageRun
    # Stages whose output this one reads (documentation and ordering checks; the driver runs in order).
    needs: tuple[str, ...] = ()
    # Derived from the other stages' files and cheap (the report): rebuilt on every run, and kept out
    # of the events so that what it reads about the run is complete when it reads it.
    derived: bool = False
    # Config sections this stage is the first to read: a change there changes its results and, since
    # each stage reads the one before, every later stage's.
    reads: tuple[str, ...] = ()
    # Globs (relative to the run directory) of the files holding its results, besides its events.
    outputs: Callable[[], tuple[str, ...]] = lambda: ()
    # Each result records the settings it was made with (export: every model's meta.json), and new
    # settings add results beside the old ones: a --force change of its section is taken, not refused.
    self_describing: bool = False
    # A reason to skip this stage for this config (not for being done), or None.
    skip: Callable[[StageContext], str | None] = _never


def _given_supernet(ctx: StageContext) -> str | None:
    given = ctx.config.search_stage.supernet
    return f"using the given supernet {given}" if given else None


def _stage_run(package: str) -> StageRun:
    """`natv2.<package>.stage.run`, imported when the stage runs (so `natv2 config` stays light)."""
    def run(ctx: StageContext) -> Outcome[Any]:
        import importlib

        return importlib.import_module(f"natv2.{package}.stage").run(ctx)

    run.__qualname__ = f"natv2.{package}.stage.run"
    return run


def _outputs(stage: str) -> Callable[[], tuple[str, ...]]:
    def outputs() -> tuple[str, ...]:
        from natv2.io.artifacts import STAGE_OUTPUTS

        return STAGE_OUTPUTS[stage]

    return outputs


STAGES: tuple[Stage, ...] = (
    Stage("train", "train the supernet (train.recipe: from scratch, or a source's warm-up)", _stage_run("train"),
          reads=("run", "data", "train"), outputs=_outputs("train"), skip=_given_supernet),
    Stage("search", "search (archive, surrogate, NSGA, adaptation)", _stage_run("search"), needs=("train",),
          reads=("search", "search_stage"), outputs=_outputs("search")),
    Stage("finetune", "two-step fine-tuning of the chosen subnets", _stage_run("finetune"), needs=("search",),
          reads=("finetune",), outputs=_outputs("finetune")),
    Stage("export", "export (safetensors + JSON, TorchScript, ONNX)", _stage_run("export"), needs=("search", "finetune"),
          reads=("export",), outputs=_outputs("export"), self_describing=True),
    Stage("report", "HTML report", _stage_run("report"), needs=("train", "search", "finetune", "export"), derived=True),
)
STAGE_BY_NAME = {s.name: s for s in STAGES}


def _set_threads(config: Any) -> None:
    if config.run.threads:
        import torch

        torch.set_num_threads(int(config.run.threads))


def run_pipeline(ctx: StageContext, stages: Sequence[Stage] = STAGES, *, explicit: bool = False) -> dict[str, Outcome]:
    """Run every stage not yet done and not skipped for this config (every stage given, with `explicit`:
    a stage command runs, i.e. resumes, its stage even when it finished); return stage -> outcome. The one place that sets threads,
    writes `start` / `done` and times stages, so a stage run alone or in `natv2 run` leaves the same events."""
    _set_threads(ctx.config)
    outcomes: dict[str, Outcome] = {}
    total = len(stages)
    for i, stage in enumerate(stages, 1):
        head = f"[{i}/{total}] {stage.name}: {stage.title}"
        if not (explicit or stage.derived) and ctx.run is not None and ctx.run.is_done(stage.name):
            ctx.log(f"{head} - already done, skipped")
            outcomes[stage.name] = Outcome("done earlier")
            continue
        reason = None if explicit else stage.skip(ctx)
        if reason:
            ctx.log(f"{head} - skipped: {reason}")
            outcomes[stage.name] = Outcome(f"skipped ({reason})")
            continue
        ctx.log(head)
        record = ctx.run is not None and not stage.derived
        if record:
            ctx.run.log_event(stage.name, "start")
        t0 = time.perf_counter()
        outcome = stage.runner(ctx)
        seconds = time.perf_counter() - t0
        if record:
            ctx.run.mark_done(stage.name, seconds=round(seconds, 2), **outcome.done)
        ctx.log(f"    {outcome.summary}  ({_fmt_seconds(seconds)})")
        outcomes[stage.name] = outcome
    return outcomes


def _fmt_seconds(s: float) -> str:
    m, sec = divmod(int(round(s)), 60)
    return f"{m}m{sec:02d}s" if m else f"{s:.1f}s"


def where_things_are(run_path: Path) -> list[str]:
    """The closing lines: where the report and the models are."""
    from natv2.io.artifacts import Layout
    from natv2.runtime.int8 import INT8_SUFFIX

    lay = Layout(run_path)
    lines = [f"run directory: {run_path}"]
    index = lay.report_index
    if index.is_file():
        lines.append(f"report:        {index}")
    models = lay.models
    if models.is_dir():
        lines.append(f"models:        {models}  (load one with natv2.load_model(PATH))")
        int8 = sorted(models.glob(f"*/*{INT8_SUFFIX}"))
        if int8:
            lines.append(f"INT8 models:   {len(int8)} (classify with natv2 predict {int8[0].parent} IMAGE --format int8)")
    return lines


# ---------------------------------------------------------------------- what a run directory records
# The rule (docs/reliability.md): a run directory's config.yaml is always the config its results were
# computed with. A changed setting is taken when no stage it affects holds results yet (with --force
# once any stage does); it is refused, before anything is written, when one does.
def affected_stages(changes: Sequence[Any], stages: Sequence[Stage] = STAGES) -> list[str]:
    """Stages whose results depend on any changed key: the first stage reading its section, and every later one."""
    order = [s for s in stages if not s.derived]
    first = len(order)
    for change in changes:
        section = change.key.split(".", 1)[0]
        hits = [i for i, s in enumerate(order) if section in s.reads]
        first = min(first, hits[0] if hits else 0)  # a section no stage claims: assume it affects all
    return [s.name for s in order[first:]]


def stages_with_results(run: Any, stages: Sequence[Stage] = STAGES) -> list[str]:
    """Stages that have computed something in `run`: an event beyond `start`, or one of their output files."""
    active = {e.stage for e in run.read_events() if e.event != "start"}
    out = []
    for s in stages:
        if s.derived:
            continue
        if s.name in active or any(next(run.path.glob(g), None) is not None for g in s.outputs()):
            out.append(s.name)
    return out


def _set_args(changes: Sequence[Any]) -> str:
    import json

    return " ".join(f"--set {c.key}={json.dumps(c.new, default=str)}" for c in changes)


def config_change_policy(run: Any, changes: Sequence[Any], force: bool) -> str:
    """Decide on a changed config for an existing run directory: return why it is taken, or raise RunDirError."""
    from natv2.errors import RunDirError
    from natv2.io.rundir import describe_changes

    holding = stages_with_results(run)
    if not holding:
        return "no stage holds results yet"
    describing = {s.name for s in STAGES if s.self_describing}
    affected = [s for s in affected_stages(changes) if s in holding and s not in describing]
    new_dir = f"natv2 run --config {run.config_path} {_set_args(changes)} --run-dir NEW_DIR"
    if "train" in holding and "train" not in affected_stages(changes):
        new_dir += f" --supernet {run.layout.trained_supernet}  (reuses this run's trained supernet)"
    if affected:
        raise RunDirError(
            f"run directory '{run.path}' holds results of {', '.join(affected)} computed with its saved config, and "
            f"these settings changed: {describe_changes(changes)}. A run directory's {CONFIG_FILE} always is the config "
            "its results were computed with, so this change is refused" + (" even with --force (--force only takes "
            "changed settings that no finished or started stage depends on)" if force else ""),
            f"run with the new settings in a new run directory: {new_dir}; or run again without the changes to resume "
            f"this one with its own settings (natv2 run {run.path})")
    if not force:
        raise RunDirError(
            f"run directory '{run.path}' was started with a different config ({describe_changes(changes)})",
            f"pass --force to continue with the new settings (no stage that holds results depends on them: "
            f"{', '.join(holding)} are kept), or use a new --run-dir, or resume with the saved settings (natv2 run {run.path})")
    return f"--force; stages {', '.join(holding)} hold results and do not depend on the change"
