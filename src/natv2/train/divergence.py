"""The fix of a diverged training loss, per stage: which setting to lower and a command that works.

A run directory records the settings its results were computed with (docs/reliability.md), so a lower
learning rate cannot be forced into the run that diverged: the fix starts a new run directory from the
saved config with the lower rate (the diverged one stays as it is, its last good checkpoint kept).
"""

from __future__ import annotations

from pathlib import Path

from natv2.io.artifacts import Layout
from natv2.config.convert import show
from natv2.train.steps import TrainingDivergedError

GRAD_CLIP = 5.0  # the clip the fixes propose where none is set


def lower_lr(current: float, default: float) -> float:
    """A rate worth trying: a tenth of the one that diverged, and no more than the stage's default."""
    return float(f"{min(current / 10.0, default):.3g}")


def _sets(pairs: dict[str, object]) -> str:
    return " ".join(f"--set {k}={show(v)}" for k, v in pairs.items())


def training_fix(err: TrainingDivergedError, run_path: str | Path, phase_lr: float, default_lr: float,
                 grad_clip: float | None) -> TrainingDivergedError:
    """`err` with the fix of the train-supernet stage: train.phase_overrides.<phase>.base_lr in a new run directory."""
    pairs: dict[str, object] = {f"train.phase_overrides.{err.phase}.base_lr": lower_lr(phase_lr, default_lr)}
    if grad_clip is None:
        pairs["train.grad_clip"] = GRAD_CLIP
    config = Layout(run_path).config
    fix = (f"lower the phase's learning rate (now {phase_lr:.3g}) and clip the gradients, in a new run directory "
           f"started from this run's settings: natv2 train-supernet --config {config} {_sets(pairs)} --run-dir NEW_DIR "
           "(then natv2 run NEW_DIR continues the pipeline)")
    return TrainingDivergedError(err.problem, fix, phase=err.phase)


def adaptation_fix(err: TrainingDivergedError, run_path: str | Path, lr: float, default_lr: float,
                   supernet_args: str) -> TrainingDivergedError:
    """`err` with the fix of the search stage's supernet adaptation: search_stage.adapt.lr in a new run directory."""
    config = Layout(run_path).config
    pairs = {"search_stage.adapt.lr": lower_lr(lr, default_lr)}
    fix = (f"lower the adaptation's learning rate search_stage.adapt.lr (now {lr:.3g}) in a new run directory "
           f"started from this run's settings: natv2 search --config {config} {supernet_args} {_sets(pairs)} "
           "--run-dir NEW_DIR".replace("  ", " "))
    return TrainingDivergedError(err.problem, fix, phase=err.phase)
