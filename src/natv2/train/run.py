"""The `train-supernet` stage: from a resolved run config and a run directory to a trained supernet.

Used by the `natv2 train-supernet` command (and by a whole-pipeline driver); works the same when
started plainly or under `torchrun` (rank 0 owns the run directory, every rank trains).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import torch

from natv2.io.artifacts import Layout
from natv2.supernets.source import check_same_source, write_source_record
from natv2.train.build import build_supernet
from natv2.train.dist import DistContext, all_gather_objects
from natv2.train.recipes import RECIPES
from natv2.train.steps import TrainingDivergedError
from natv2.train.supernet_meta import SupernetMeta
from natv2.train.trainer import SupernetTrainer, TrainResult

log = logging.getLogger("natv2.train")

STAGE = "train"


def train_dir(run_path: str | Path) -> Path:
    """Where a run keeps metrics, the plot and the trained supernet (checkpoints go to <run>/checkpoints)."""
    return Layout(run_path).train


def train_supernet(config: Any, run_path: str | Path, *, dist: DistContext, resume: bool = False,
                   events: Callable[[str, dict[str, Any]], None] | None = None) -> TrainResult:
    """Train `config.train` on `config.data`; `config` is a RunConfig (run, data, train sections)."""
    from natv2.data import load_dataset
    from natv2.train.data import SplitsTrainingData

    cfg, seed = config.train, int(config.run.seed)
    splits = load_dataset(config.data)
    data = SplitsTrainingData(splits, config.data, seed=seed, device=dist.device)
    recipe_dropouts = [t.dropout for t in RECIPES[cfg.resolved_recipe()] if t.dropout is not None]
    image_size = min(splits.image_size)
    source = _transfer_source(cfg, run_path, dist, image_size, events)
    torch.manual_seed(seed)  # the same initial weights on every rank and every attempt
    supernet = build_supernet(cfg, data.n_classes, dropout=max([cfg.dropout, *recipe_dropouts]), image_size=image_size,
                              class_names=splits.classes, source=source)
    meta = SupernetMeta(cfg.supernet, cfg.width_mult, data.n_classes, config.data.name, list(splits.classes), seed,
                        source.card() if source is not None else None).to_dict()
    if source is not None and dist.is_main:
        write_source_record(run_path, source, {"dataset": config.data.name, "n_classes": data.n_classes,
                                               "image_size": image_size, "space": supernet.space.to_dict(),
                                               "recipe": cfg.resolved_recipe(),
                                               "new_heads": not source.keeps_heads(data.n_classes, splits.classes)})
    trainer = SupernetTrainer(cfg, supernet, data, train_dir(run_path), seed=seed, dist=dist,
                              progress=bool(config.run.progress), events=events, supernet_meta=meta,
                              checkpoint_dir=Layout(run_path).checkpoints)
    try:
        return trainer.run(resume=resume)
    except TrainingDivergedError as err:
        from natv2.train.divergence import training_fix

        phase = next((p for p in trainer.phases if p.name == err.phase), None)
        if phase is None:
            raise
        base = next((r.base_lr for r in RECIPES[cfg.resolved_recipe()] if r.name == err.phase), phase.base_lr)
        raise training_fix(err, run_path, phase.base_lr, base, cfg.grad_clip) from None


def _transfer_source(cfg: Any, run_path: str | Path, dist: DistContext, image_size: int,
                     events: Callable[[str, dict[str, Any]], None] | None) -> Any:
    """The checked `Source` of a transfer run (None from scratch): the same file it started from on a
    resume, with a note when the target's resolutions lie outside what the source was trained at."""
    if not cfg.source:
        return None
    from natv2.train.build import resolve_checked_source

    source = resolve_checked_source(cfg)
    check_same_source(run_path, source)
    requested = cfg.space.get("r")
    resolutions = source.target_resolutions(image_size, [requested] if isinstance(requested, int) else requested)
    note = source.resolution_note(resolutions)
    if note and dist.is_main:
        log.warning(note)
    if events is not None:
        events("transfer_source", {"source": source.card(), "resolutions": resolutions, "note": note})
    return source


def shared_run_path(path: str | Path | None, dist: DistContext) -> Path:
    """Rank 0's run directory path, on every rank."""
    return Path(all_gather_objects(str(path) if path is not None else None, dist)[0])
