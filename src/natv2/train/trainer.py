"""`SupernetTrainer`: the full network, then the (extended) progressive-shrinking phases, with
per-epoch checkpoints, exact resume, validation on a fixed grid, metrics and a plot.

The trainer receives a built supernet and a `TrainingData`; it owns the phase loop, teachers,
optimiser and files, and nothing about argument parsing or datasets.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from natv2.io.artifacts import CHECKPOINTS_DIR, CONFIG_FILE, SUPERNET_STEM, TRAIN_METRICS, TRAIN_PLOT
from natv2.errors import CheckpointError
from natv2.io import atomic_write_json
from natv2.nn.dropout import set_dropout
from natv2.supernets.checkpoint import load_weights, save_weights
from natv2.train.checkpoint import CheckpointStore
from natv2.train.config import TrainConfig
from natv2.train.data import TrainingData
from natv2.train.dist import DistContext, all_gather_objects, broadcast_model
from natv2.train.metrics import MetricsLog, plot_validation
from natv2.train.optim import WarmupCosine, make_sgd
from natv2.train.progress import Progress
from natv2.train.recipes import Phase, build_phases
from natv2.train.state import TrainState
from natv2.train.steps import EpochContext, LossSpec, SpaceSampler, StepTimes, derive_seed, run_epoch
from natv2.train.teacher import TEACHER_POLICIES, Teacher, extract_max_teacher
from natv2.train.validate import accuracy, calibrated_subnet, capped_batches, validation_grid

EventSink = Callable[[str, dict[str, Any]], None]


def make_autocast(amp: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    use = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    if not use:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@dataclass
class PhaseResult:
    name: str
    best_metric: float | None  # the best epoch's validation top-1 (grid mean), a fraction
    best_epoch: int | None
    last_val: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    phases: list[PhaseResult]
    weights_path: Path


class SupernetTrainer:
    """Runs the phases of `cfg` on `supernet` with `data` (rank 0 writes the files).

    out_dir: metrics.jsonl, val_accuracy.png and the trained supernet.safetensors / supernet.json;
    checkpoint_dir (default out_dir/checkpoints): resumable state, best and teacher per phase.
    """

    def __init__(self, cfg: TrainConfig, supernet: nn.Module, data: TrainingData, out_dir: str | Path, *,
                 seed: int = 0, dist: DistContext | None = None, progress: bool = True,
                 recalibrate: Callable[..., nn.Module] | None = None, events: EventSink | None = None,
                 phases: Sequence[Phase] | None = None, supernet_meta: dict[str, Any] | None = None,
                 checkpoint_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.dist = dist or DistContext()
        self.device = self.dist.device
        self.supernet = supernet.to(self.device)
        if cfg.channels_last:
            self.supernet = self.supernet.to(memory_format=torch.channels_last)
        self.data = data
        self.out_dir = Path(out_dir)
        self.store = CheckpointStore(Path(checkpoint_dir) if checkpoint_dir else self.out_dir / CHECKPOINTS_DIR)
        self.metrics = MetricsLog(self.out_dir / TRAIN_METRICS)
        self.seed = seed
        self.show_progress = progress
        self.recalibrate = recalibrate or _default_recalibrate
        self.events = events or (lambda kind, payload: None)
        self.space = supernet.space
        self.has_exits = self.space.nd is not None
        self.phases = list(phases) if phases is not None else build_phases(
            self.space, cfg.resolved_recipe(), epochs_scale=cfg.epochs_scale,
            overrides=cfg.phase_overrides, default_dropout=cfg.dropout, only=cfg.only_phases or None)
        self.policy = TEACHER_POLICIES[cfg.resolved_teacher()]()
        self.autocast = make_autocast(cfg.amp, self.device)
        self.supernet_meta = dict(supernet_meta or {})
        self.times = StepTimes()
        self._eval_rows: dict[str, dict[int, Any]] = {}  # split -> cap -> the capped evaluation's rows

    # ------------------------------------------------------------------ public
    def run(self, resume: bool = False) -> TrainResult:
        start_phase, start_epoch, state = 0, 0, None
        if resume and self.store.exists():
            state = TrainState.from_dict(self.store.read_state(), str(self.store.state_path))
            self._check_state(state)
            if state.finished:
                return self._finished(state)
            start_phase, start_epoch = state.phase_index, state.epochs_done
            if state.phase_complete:
                start_phase, start_epoch = start_phase + 1, 0
            self.store.load_model(self.supernet)
            if self.dist.is_main:
                self.metrics.truncate_after(state.phase_index, state.epochs_done - 1)
            self.events("train_resume", {"phase": state.phase, "epochs_done": state.epochs_done})
        elif self.store.exists() and self.store.read_state().get("finished"):
            raise CheckpointError(f"the training in {self.store.root.parent} has already finished "
                                  f"(its supernet: {self.out_dir / SUPERNET_STEM}.safetensors)",
                                  "use that supernet as it is, pass --resume (nothing is trained again), "
                                  "or start a new run directory")
        elif self.store.exists():
            raise CheckpointError(f"{self.store.root} already holds a training checkpoint",
                                  "pass --resume to continue it, or use a new run directory")
        broadcast_model(self.supernet, self.dist)
        best: dict[str, dict[str, Any]] = dict(state.best) if state else {}
        results: list[PhaseResult] = []
        for phase in self.phases:
            if phase.index < start_phase:
                b = best.get(phase.name, {})
                results.append(PhaseResult(phase.name, b.get("metric"), b.get("epoch")))
                continue
            resume_state = state if (phase.index == start_phase and start_epoch > 0) else None
            results.append(self._run_phase(phase, start_epoch if resume_state else 0, resume_state, best))
            self._prune_phase_files(phase, finished=True)
        weights = self._write_final(results)
        self._drop_resume_files(weights)
        return TrainResult(results, weights)

    def _finished(self, state: TrainState) -> TrainResult:
        """A resume of a training that already finished: nothing to train, its supernet is the result."""
        weights = self.out_dir / str(state.supernet_file or f"{SUPERNET_STEM}.safetensors")
        if not weights.exists():
            raise CheckpointError(f"training in {self.store.root.parent} finished, but its supernet {weights} is gone",
                                  "restore the file, or train again in a new run directory")
        if self.dist.is_main:
            self.store.remove_stale()  # files a kill between writing state.json and deleting them left behind
        best = state.best
        self.events("train_already_finished", {"supernet": str(weights)})
        return TrainResult([PhaseResult(p.name, best.get(p.name, {}).get("metric"), best.get(p.name, {}).get("epoch"))
                            for p in self.phases], weights)

    def _drop_resume_files(self, weights: Path) -> None:
        """Training is over and its supernet written: the resume weights and optimiser state (about twice the
        supernet's size) are only needed again if kept on purpose (train.keep_phase_checkpoints)."""
        if self.cfg.keep_phase_checkpoints or not self.dist.is_main or not self.store.exists():
            return
        removed = self.store.finish(weights.name)
        if removed:
            self.events("checkpoint_files_removed", {"files": removed})

    def _prune_phase_files(self, phase: Phase, finished: bool) -> None:
        """Drop the phase folders that neither a later phase nor a resume reads. Once `phase`'s teacher is on
        disk (a restart of the phase reloads it), the earlier phases' folders go; once `phase` has
        finished, only its own stays (the next teacher comes from its best weights), and after the last
        phase none. The fixed teacher policy keeps `full` (every teacher comes from its best weights)."""
        if self.cfg.keep_phase_checkpoints or not self.dist.is_main:
            return
        last = finished and phase.index == len(self.phases) - 1
        keep = set() if last else {phase.name} | ({"full"} if self.policy.name == "fixed" else set())
        removed = self.store.prune_phases(keep)
        if removed:
            self.events("phase_files_removed", {"phases": removed})

    # ------------------------------------------------------------------ phases
    def _run_phase(self, phase: Phase, start_epoch: int, state: TrainState | None, best: dict[str, dict]) -> PhaseResult:
        cfg, net = self.cfg, self.supernet
        set_dropout(net, phase.dropout)
        teacher = None
        if phase.kind == "elastic" and self.policy.enabled and cfg.kd_ratio > 0:
            teacher = self._phase_teacher(phase, resumed=state is not None)
        self._prune_phase_files(phase, finished=False)  # earlier phases' files: nothing reads them now
        if phase.kind == "elastic" and phase.sort_channels is not None and state is None:
            net.sort_channels(phase.sort_channels)
        optimizer = make_sgd(net, 0.0, cfg.momentum, cfg.nesterov, cfg.weight_decay, cfg.no_decay_bn_bias)
        if state is not None:
            self.store.load_optimizer(optimizer)
        steps, schedule = self._schedule(phase)
        all_exits = tuple(range(1, max(self.space.nd) + 1)) if (phase.kind == "full" and self.has_exits) else None
        loss = LossSpec(cfg.label_smoothing, cfg.kd_ratio, cfg.kd_normalise, cfg.exit_loss_weights, all_exits)
        grid = validation_grid(phase.space, n_random=cfg.val_random, per_dim=cfg.val_per_dim,
                               resolutions=cfg.val_resolutions, seed=derive_seed(self.seed, phase.index))
        self.events("phase_start", {"phase": phase.name, "epoch": start_epoch, **phase.summary()})
        record_best = best.setdefault(phase.name, {"metric": None, "epoch": None})
        last_val: dict[str, float] = {}
        progress = Progress(self.show_progress, phase.name, phase.total_epochs, steps, start_epoch,
                            main=self.dist.is_main)
        try:
            for epoch in range(start_epoch, phase.total_epochs):
                ec = EpochContext(
                    supernet=net, optimizer=optimizer, schedule=schedule, sampler=SpaceSampler(phase.space),
                    loss=loss, subnets_per_step=phase.subnets_per_step, dist=self.dist, teacher=teacher,
                    grad_clip=cfg.grad_clip, channels_last=cfg.channels_last, autocast=self.autocast,
                    seed_parts=(self.seed, phase.index, epoch), phase_name=phase.name, epoch=epoch)
                record = self._train_epoch(phase, ec, steps, grid, progress)
                last_val = record["val"]
                improved = self._keep_if_best(phase, epoch, record["val_mean"], last_val, record_best)
                self._end_epoch(phase, epoch, record, optimizer, best, improved)
        finally:
            progress.close()
        if self.dist.is_main:
            plot_validation(self.metrics.read(), self.out_dir / TRAIN_PLOT)
        self.events("phase_end", {"phase": phase.name, "best": record_best})
        return PhaseResult(phase.name, record_best["metric"], record_best["epoch"], last_val)

    def _schedule(self, phase: Phase) -> tuple[int, WarmupCosine]:
        """Optimiser steps per epoch (the data's, capped by train.steps_per_epoch and the phase's cap) and
        the phase's learning-rate schedule (the recipe's lr scaled to the global batch)."""
        cfg = self.cfg
        steps = self.data.steps_per_epoch(self.dist.world_size)
        for cap in (cfg.steps_per_epoch, phase.steps_per_epoch):  # both are caps: the smaller one holds
            if cap is not None:
                steps = min(steps, cap)
        global_batch = self.data.batch_size * self.dist.world_size
        peak = phase.base_lr * (global_batch / cfg.lr_reference_batch if cfg.lr_scaling == "linear" else 1.0)
        return steps, WarmupCosine(peak, phase.warmup_epochs * steps, phase.epochs * steps, cfg.warmup_start_factor)

    def _train_epoch(self, phase: Phase, ec: EpochContext, steps: int, grid: Sequence[Any], progress: Progress) -> dict[str, Any]:
        """Train and validate one epoch; its metrics record."""
        epoch = ec.epoch
        torch.manual_seed(derive_seed(self.seed, phase.index, epoch, self.dist.rank, 1))
        batches = self.data.train_batches(derive_seed(self.seed, phase.index, epoch, 2),
                                          self.space.r, self.dist.rank, self.dist.world_size)
        t0 = time.perf_counter()
        progress.start_epoch(epoch)
        train_loss = run_epoch(ec, batches, steps, epoch * steps, progress.step, self.times)
        train_s = time.perf_counter() - t0
        val = self.validate(grid)
        mean = sum(val.values()) / len(val) if val else None
        progress.end_epoch(train_loss, mean)
        return {"phase": phase.name, "phase_index": phase.index, "epoch": epoch,
                "lr": ec.schedule((epoch + 1) * steps - 1), "train_loss": train_loss,
                "images_per_s": steps * self.data.batch_size * self.dist.world_size / max(train_s, 1e-9),
                "train_s": train_s, "val_mean": mean, "val": val}

    def _keep_if_best(self, phase: Phase, epoch: int, mean: float | None, val: dict[str, float],
                      record_best: dict[str, Any]) -> bool:
        """Record (and save the weights of) a new best validation mean of the phase."""
        improved = mean is not None and (record_best["metric"] is None or mean > record_best["metric"])
        if improved:
            record_best.update(metric=mean, epoch=epoch)
            if self.dist.is_main:
                save_weights(self.supernet, self.store.phase_dir(phase.name) / "best.safetensors")
                atomic_write_json(self.store.phase_dir(phase.name) / "best.json",
                                  {"phase": phase.name, "epoch": epoch, "val_mean": mean, "val": val})
        return improved

    def _end_epoch(self, phase: Phase, epoch: int, record: dict[str, Any], optimizer: torch.optim.Optimizer,
                   best: dict[str, dict], improved: bool) -> None:
        """The end-of-phase evaluation, the metrics line, the checkpoint and the epoch's event."""
        cfg, done = self.cfg, epoch + 1
        if done == phase.total_epochs and cfg.phase_eval_split != "none":
            record["phase_eval"] = self._phase_eval(phase)
        if self.dist.is_main:
            self.metrics.append(record)
            if done % cfg.checkpoint_every == 0 or done == phase.total_epochs:
                complete = done == phase.total_epochs
                # a completed phase's optimiser is never read again: the next phase starts a fresh one
                keep_optimizer = not complete or cfg.keep_phase_checkpoints
                state = TrainState(phase_index=phase.index, phase=phase.name, epochs_done=done, phase_complete=complete,
                                   phases=[p.name for p in self.phases], seed=self.seed, best=best)
                self.store.save(f"p{phase.index:02d}e{done:04d}", self.supernet, optimizer if keep_optimizer else None,
                                state, same_as=self.store.phase_dir(phase.name) / "best.safetensors" if improved else None)
        self.dist.barrier()
        self.events("epoch_end", record)

    def _phase_teacher(self, phase: Phase, resumed: bool) -> Teacher:
        """The phase's teacher: rebuilt from files on resume, else chosen by the teacher policy."""
        path = self.store.phase_dir(phase.name) / "teacher.safetensors"
        names = [p.name for p in self.phases]
        # an earlier attempt at this phase may have written it (atomically) before dying: then it is reused,
        # since the folder it came from may be gone. Rank 0's view decides, so every rank takes one branch.
        if resumed or all_gather_objects(path.is_file(), self.dist)[0]:
            net = extract_max_teacher(copy.deepcopy(self.supernet), self.has_exits)
            load_weights(path, net)
        else:
            src_net = copy.deepcopy(self.supernet)
            src = self._teacher_source(phase, names)
            if isinstance(src, Path):
                if src.name == "teacher.safetensors":
                    net = extract_max_teacher(src_net, self.has_exits)
                    load_weights(src, net)
                else:
                    load_weights(src, src_net)
                    net = extract_max_teacher(src_net, self.has_exits)
            else:
                net = extract_max_teacher(src_net, self.has_exits)
            del src_net
            if self.policy.recalibrate:
                calib = [b.to(self.device) for b in self.data.calibration_batches(max(self.space.r))]
                if self.cfg.channels_last:
                    net = net.to(memory_format=torch.channels_last)
                    calib = [b.contiguous(memory_format=torch.channels_last) for b in calib]
                out = self.recalibrate(net, calib, inplace=True)
                net = out if out is not None else net
            if self.dist.is_main:
                save_weights(net, path)
            self.dist.barrier()
        net = net.to(self.device)
        if self.cfg.channels_last:
            net = net.to(memory_format=torch.channels_last)
        return Teacher(net, self.cfg.teacher_bn, self.cfg.exit_ensemble_weights)

    def _teacher_source(self, phase: Phase, names: list[str]) -> Path | None:
        """Weights the teacher is extracted from: a best checkpoint, an earlier teacher, or None (current)."""
        if self.policy.name == "progressive":
            if phase.index == 0:
                return None
            prev = self.store.phase_dir(names[phase.index - 1]) / "best.safetensors"
            return prev if prev.exists() else None
        # fixed: the full network after the `full` phase; without one, the first teacher this run built
        full = self.store.phase_dir("full") / "best.safetensors"
        if "full" in names and names.index("full") < phase.index and full.exists():
            return full
        for earlier in reversed(names[: phase.index]):
            t = self.store.phase_dir(earlier) / "teacher.safetensors"
            if t.exists():
                return t
        return None

    # ------------------------------------------------------------------ validation
    def _phase_eval(self, phase: Phase) -> dict[str, Any]:
        """Min, max and seeded random subnets of the phase's space at the largest resolution, on
        `phase_eval_split` (the figures of docs/RESULTS.md)."""
        cfg = self.cfg
        grid = validation_grid(phase.space, n_random=cfg.phase_eval_random, per_dim=False, resolutions="max",
                               seed=derive_seed(self.seed, 4243))
        acc = self.validate(grid, split=cfg.phase_eval_split, max_batches=cfg.phase_eval_max_batches)
        rand = [v for k, v in acc.items() if k.startswith("rand")]
        top = next(v for k, v in acc.items() if k.startswith("max@"))
        return {"split": cfg.phase_eval_split, "acc": acc, "max": top,
                "min": next((v for k, v in acc.items() if k.startswith("min@")), top),  # min == max in `full`
                "random_mean": sum(rand) / len(rand) if rand else None,
                "configs": {e.label: e.config.to_dict(canonical=True) for e in grid}}

    def validate(self, grid: Sequence[Any], split: str = "val", max_batches: int | None = -1) -> dict[str, float]:
        """Top-1 (a fraction) per grid entry, BN recalibrated per subnet; the grid is split over ranks."""
        max_batches = self.cfg.val_max_batches if max_batches == -1 else max_batches
        mine = list(grid)[self.dist.rank :: self.dist.world_size]
        out: dict[str, float] = {}
        calib_cache: dict[int, Sequence[torch.Tensor]] = {}
        for entry in mine:
            r = entry.config.r
            if r not in calib_cache:
                calib_cache[r] = self.data.calibration_batches(r)
            net = calibrated_subnet(self.supernet, entry.config, calib_cache[r], self.device, self.recalibrate,
                                    self.cfg.channels_last)
            batches = capped_batches(self.data.eval_batches(r, split), max_batches, self._eval_rows.setdefault(split, {}))
            acc, _ = accuracy(net, batches, self.device, channels_last=self.cfg.channels_last, autocast=self.autocast)
            out[entry.label] = acc
            del net
        merged: dict[str, float] = {}
        for part in all_gather_objects(out, self.dist):
            merged.update(part)
        return {e.label: merged[e.label] for e in grid}

    # ------------------------------------------------------------------ files
    def _check_state(self, state: TrainState) -> None:
        state.check_setup([p.name for p in self.phases], self.seed, str(self.store.root),
                          f"resume with the run's own config ({CONFIG_FILE} of the run directory) or start a new run")

    def _write_final(self, results: list[PhaseResult]) -> Path:
        """The trained supernet as `supernet.safetensors` + `supernet.json` (natv2.supernets.load_supernet reads it)."""
        from natv2.supernets import save_supernet

        path = self.out_dir / f"{SUPERNET_STEM}.safetensors"
        if self.dist.is_main:
            self.supernet.set_max_net()
            save_supernet(self.supernet, self.out_dir / SUPERNET_STEM, {
                **self.supernet_meta,
                "phases": [p.summary() for p in self.phases],
                "best": {r.name: {"val_top1": r.best_metric, "epoch": r.best_epoch} for r in results},
            })
        self.dist.barrier()
        return path


def _default_recalibrate(model: nn.Module, batches: Sequence[torch.Tensor], inplace: bool = False) -> nn.Module:
    from natv2.supernets.bn import recalibrate_bn

    return recalibrate_bn(model, batches, inplace=inplace)

