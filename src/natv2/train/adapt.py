"""Online supernet adaptation between search iterations (NAT's "online transfer", spec §3.8, §4.4).

After each search iteration the loop hands over a sampler of subnets drawn from per-gene
distributions fitted on the best archive members; `SupernetAdaptation.adapt` trains the supernet on
them for E epochs with the training step of progressive shrinking (`natv2.train.steps.run_epoch`):
per batch, 4 sampled subnets (their resolution gene dropped: the batch's resolution comes from the
loader, restricted to the search space's resolutions) each forward + backward with

    loss = (kd * softCE(out, teacher soft labels) + CE(out, y)) * 2 / (kd + 1),

gradients accumulated, clipped to norm 5, one SGD step. The teacher is the maximal network extracted
once, before any adaptation, and kept fixed (the all-exits maximal network with ENS-KD for
early-exit supernets). One warm-up + cosine schedule spans iterations x epochs.

Resume (the search's adapter contract): weights, optimiser and schedule position are saved after every
epoch (safetensors + JSON, `natv2.train.checkpoint.CheckpointStore`); constructing the adapter loads
the latest state, and `adapt` for an iteration already (partly) done continues after its last saved
epoch. The module imports torch only when an adapter is built, so the config class stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np

from natv2.config import FieldError
from natv2.errors import CheckpointError
from natv2.space import SubnetConfig
from natv2.config.fields import key_help
from natv2.train.state import AdaptState

if TYPE_CHECKING:
    from torch import nn

    from natv2.train.data import TrainingData
    from natv2.train.dist import DistContext

# NAT / NATv2 scripts weight the exits of the ENS-KD teacher in descending order (spec §4.8, §7.3).
DESCENDING_EXIT_WEIGHTS = (0.34, 0.27, 0.20, 0.13, 0.06)
SEED_STREAM = 7001  # separates adaptation's random streams from training's



@dataclass(frozen=True)
class AdaptConfig:
    """Supernet adaptation during the search (spec §3.8; defaults from spec §4.8): every setting of it in
    one section. The batch size is `data.batch_size`."""

    enabled: bool = field(default=True, metadata=key_help("adapt the supernet between search iterations (NAT's online transfer)"))
    epochs: int = field(default=5, metadata=key_help(
        "adaptation epochs between two search iterations; 0 = no adaptation (as enabled: false)"))
    lr: float = field(default=2.5e-3, metadata=key_help("peak learning rate; cosine to 0 over iterations x epochs"))
    warmup_epochs: int = field(default=5, metadata=key_help("linear warm-up epochs at the start of the whole adaptation"))
    warmup_start_lr: float = field(default=1e-4, metadata=key_help("learning rate the warm-up starts from"))
    momentum: float = field(default=0.9, metadata=key_help("SGD momentum"))
    nesterov: bool = field(default=True, metadata=key_help("Nesterov momentum"))
    weight_decay: float = field(default=3e-4, metadata=key_help("weight decay"))
    no_decay_bn_bias: bool = field(default=True, metadata=key_help("no weight decay on BN parameters and biases"))
    grad_clip: float | None = field(default=5.0, metadata=key_help("max global gradient norm; null: no clipping"))
    subnets_per_step: int = field(default=4, metadata=key_help("subnets sampled per batch (gradients accumulate)"))
    kd_ratio: float = field(default=1.0, metadata=key_help("kd in (kd * softCE + CE) * 2 / (kd + 1); 0: no distillation"))
    label_smoothing: float = field(default=0.0, metadata=key_help("label smoothing of the CE term"))
    teacher: Literal["fixed", "none"] = field(default="fixed", metadata=key_help(
        "fixed: the maximal net of the starting weights (all exits, ENS-KD, for early-exit supernets); none"))
    teacher_bn: Literal["train", "eval"] = field(default="train", metadata=key_help(
        "teacher BN: train = batch statistics (OFA/NAT code), eval = statistics re-calibrated once"))
    exit_ensemble_weights: tuple[float, ...] = field(default=DESCENDING_EXIT_WEIGHTS, metadata=key_help(
        "ENS-KD beta per exit (exit 1 first); NAT scripts use descending weights"))
    steps_per_epoch: int | None = field(default=None, metadata=key_help("cap on optimiser steps per epoch; null: the whole split"))
    channels_last: bool = field(default=False, metadata=key_help("NHWC training (measured slower for elastic weights)"))
    amp: Literal["auto", "bf16", "off"] = field(default="auto", metadata=key_help("auto: bf16 autocast on CUDA, off on CPU"))

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise FieldError("epochs", self.epochs, "an integer >= 0 (0 = no adaptation)")
        if self.lr <= 0:
            raise FieldError("lr", self.lr, "a float > 0")
        if self.warmup_epochs < 0:
            raise FieldError("warmup_epochs", self.warmup_epochs, "an integer >= 0")
        if not 0 < self.warmup_start_lr <= self.lr:
            raise FieldError("warmup_start_lr", self.warmup_start_lr, f"a float in (0, lr={self.lr}]")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise FieldError("grad_clip", self.grad_clip, "a float > 0, or null")
        if self.subnets_per_step < 1:
            raise FieldError("subnets_per_step", self.subnets_per_step, "an integer >= 1")
        if self.kd_ratio < 0:
            raise FieldError("kd_ratio", self.kd_ratio, "a float >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise FieldError("label_smoothing", self.label_smoothing, "a float in [0, 1)")
        w = self.exit_ensemble_weights
        if not w or any(v < 0 for v in w) or sum(w) <= 0:
            raise FieldError("exit_ensemble_weights", list(w), "non-negative weights, not all zero, exit 1 first")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise FieldError("steps_per_epoch", self.steps_per_epoch, "an integer >= 1, or null")


@dataclass(frozen=True)
class SearchSampler:
    """Adapts the search's ``sampler(rng) -> SubnetConfig`` to the training step's `.sample(rng)`."""

    fn: Callable[[np.random.Generator], SubnetConfig]

    def sample(self, rng: np.random.Generator) -> SubnetConfig:
        return self.fn(rng)


class SupernetAdaptation:
    """The search's adapter (natv2.search.SupernetAdapter): trains `supernet` in place.

    data: a TrainingData (train batches per epoch, calibration batches). root: folder of the adapter's
    checkpoints and teacher (None: no files, no resume). iterations, epochs_per_iteration: the
    search's, to lay out one learning-rate schedule. resolutions: the search space's.
    on_change: called whenever the weights changed (the evaluator drops its weight-dependent caches).
    """

    def __init__(
        self,
        supernet: "nn.Module",
        data: "TrainingData",
        cfg: AdaptConfig,
        root: str | Path | None,
        *,
        iterations: int,
        epochs_per_iteration: int,
        resolutions: Sequence[int],
        seed: int = 0,
        dist: "DistContext | None" = None,
        on_change: Callable[[], None] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from natv2.train.checkpoint import CheckpointStore
        from natv2.train.dist import DistContext
        from natv2.train.optim import WarmupCosine, make_sgd
        from natv2.train.trainer import make_autocast

        self.supernet, self.data, self.cfg = supernet, data, cfg
        self.dist = dist or DistContext()
        self.seed = int(seed)
        self.resolutions = tuple(int(r) for r in resolutions)
        self.on_change = on_change or (lambda: None)
        self.log = log or (lambda msg: None)
        self.store = CheckpointStore(root) if root is not None else None
        self.epochs_per_iteration = int(epochs_per_iteration)
        steps = data.steps_per_epoch(self.dist.world_size)
        self.steps = min(steps, cfg.steps_per_epoch) if cfg.steps_per_epoch else steps
        if self.steps < 1:
            raise CheckpointError("the training split is smaller than one batch per rank", "lower data.batch_size")
        total = max(1, int(iterations) * self.epochs_per_iteration * self.steps)
        warm = min(cfg.warmup_epochs * self.steps, total)
        self.schedule = WarmupCosine(cfg.lr, warm, total - warm, cfg.warmup_start_lr / cfg.lr)
        self.autocast = make_autocast(cfg.amp, self.dist.device)
        self.teacher = self._make_teacher()
        self.optimizer = make_sgd(supernet, 0.0, cfg.momentum, cfg.nesterov, cfg.weight_decay, cfg.no_decay_bn_bias)
        self.history: list[dict[str, Any]] = []
        self.state = self._restore()

    # ------------------------------------------------------------------ setup
    def _make_teacher(self):
        """The fixed teacher: the maximal network of the weights the search starts from (saved once)."""
        import torch

        from natv2.supernets.checkpoint import load_weights, save_weights
        from natv2.train.teacher import Teacher, extract_max_teacher

        cfg = self.cfg
        if cfg.teacher == "none" or cfg.kd_ratio <= 0:
            return None
        net_s = self.supernet
        has_exits = net_s.space.nd is not None
        active = net_s.active_subnet
        net = extract_max_teacher(net_s, has_exits)
        net_s.set_active_subnet(active)
        path = self.store.root / "teacher.safetensors" if self.store is not None else None
        if path is not None and path.exists():
            load_weights(path, net)
        else:
            if cfg.teacher_bn == "eval":
                from natv2.supernets.bn import recalibrate_bn

                calib = [b.to(self.dist.device) for b in self.data.calibration_batches(max(self.resolutions))]
                recalibrate_bn(net, calib, inplace=True)
            if path is not None and self.dist.is_main:
                save_weights(net, path)
            self.dist.barrier()
        net = net.to(self.dist.device)
        if cfg.channels_last:
            net = net.to(memory_format=torch.channels_last)
        return Teacher(net, cfg.teacher_bn, cfg.exit_ensemble_weights)

    def share_weights_with(self, path: Path) -> bool:
        """After the search: let the adaptation checkpoint's weights and the adapted supernet saved at
        `path` (the same weights) be one file on disk instead of two."""
        return self.store is not None and self.dist.is_main and self.store.share_model_file(Path(path), self.supernet)

    def _restore(self) -> AdaptState | None:
        """Load the latest saved weights + optimiser (a resumed search continues from them)."""
        if self.store is None or not self.store.exists():
            return None
        state = AdaptState.from_dict(self.store.read_state(), str(self.store.state_path))
        state.check_setup(self.seed, self.steps, str(self.store.root))
        self.store.load_model(self.supernet)
        self.store.load_optimizer(self.optimizer)
        self.history = list(state.history)
        self.on_change()
        return state

    # ------------------------------------------------------------------ the adapter protocol
    def adapt(self, sampler: Callable[[np.random.Generator], SubnetConfig], iteration: int) -> bool:
        """Train `epochs_per_iteration` epochs on subnets from `sampler`; True when the weights changed."""
        epochs = self.epochs_per_iteration
        if not self.cfg.enabled or epochs <= 0:
            return False
        start = 0
        if self.state is not None:
            done_it, done_ep = self.state.iteration, self.state.epochs_done
            if done_it > iteration:
                raise CheckpointError(
                    f"the adaptation checkpoint is at iteration {done_it}, but the search asks for iteration {iteration}",
                    "the search journal and the adapter's checkpoint disagree; start a new run directory",
                )
            if done_it == iteration:
                if done_ep >= epochs:
                    return True  # finished before a crash hid it from the journal
                start = done_ep
        for epoch in range(start, epochs):
            self._epoch(SearchSampler(sampler), iteration, epoch, epochs)
        self.supernet.eval()
        return True

    def _epoch(self, sampler: SearchSampler, iteration: int, epoch: int, epochs: int) -> None:
        import time

        import torch

        from natv2.train.steps import EpochContext, LossSpec, derive_seed, run_epoch

        cfg, dist = self.cfg, self.dist
        global_epoch = (iteration - 1) * epochs + epoch
        torch.manual_seed(derive_seed(self.seed, SEED_STREAM, iteration, epoch, dist.rank))
        ec = EpochContext(
            supernet=self.supernet, optimizer=self.optimizer, schedule=self.schedule, sampler=sampler,
            loss=LossSpec(cfg.label_smoothing, cfg.kd_ratio, True),
            subnets_per_step=cfg.subnets_per_step, dist=dist, teacher=self.teacher, grad_clip=cfg.grad_clip,
            channels_last=cfg.channels_last, autocast=self.autocast,
            seed_parts=(self.seed, SEED_STREAM, iteration, epoch), phase_name=f"adapt-{iteration}", epoch=epoch,
        )
        batches = self.data.train_batches(derive_seed(self.seed, SEED_STREAM, iteration, epoch, 2), self.resolutions,
                                          dist.rank, dist.world_size)
        t0 = time.perf_counter()
        loss = run_epoch(ec, batches, self.steps, global_epoch * self.steps)
        record = {"iteration": iteration, "epoch": epoch, "loss": loss, "lr": self.schedule((global_epoch + 1) * self.steps - 1),
                  "seconds": round(time.perf_counter() - t0, 3)}
        self.history.append(record)
        self.state = AdaptState(iteration, epoch + 1, epochs, self.seed, self.steps, list(self.history))
        if self.store is not None and dist.is_main:
            self.store.save(f"i{iteration:03d}e{epoch + 1:03d}", self.supernet, self.optimizer, self.state)
        dist.barrier()
        self.on_change()
        self.log(f"adapt iteration {iteration} epoch {epoch + 1}/{epochs}: loss {loss:.4f}, lr {record['lr']:.2e}, "
                 f"{record['seconds']:.1f} s")
