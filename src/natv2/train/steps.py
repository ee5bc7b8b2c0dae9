"""One training epoch of a supernet: the inner loop shared by progressive shrinking (every phase)
and by NAT's supernet adaptation (spec §3.8), which only swaps the subnet sampler.

Per optimiser step: take a batch (resolution chosen by the data loader), get the teacher's soft
labels once, then for each of `subnets_per_step` sampled subnets forward + backward (gradients
accumulate), average gradients over ranks, clip, step.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from natv2.errors import NatError
from natv2.space import SearchSpace, SubnetConfig
from natv2.train.dist import DistContext, average_gradients
from natv2.train.losses import aep_loss, distillation_loss
from natv2.train.optim import WarmupCosine, set_lr
from natv2.train.teacher import Teacher


class TrainingDivergedError(NatError):
    """The loss became NaN or infinite; the phase stops and the last good checkpoint is kept.

    The loop does not know which setting or command the caller runs, so its fix is generic; each stage
    re-raises it with its own (natv2.train.divergence): the key to lower and a command that works.
    """

    exit_code = 3

    def __init__(self, problem: str, fix: str = "", phase: str = "") -> None:
        super().__init__(problem, fix)
        self.phase = phase


class SubnetSampler(Protocol):
    def sample(self, rng: np.random.Generator) -> SubnetConfig: ...


@dataclass(frozen=True)
class SpaceSampler:
    """Uniform sampling over a (narrowed) search space: OFA's `sample_active_subnet`."""

    space: SearchSpace

    def sample(self, rng: np.random.Generator) -> SubnetConfig:
        return self.space.sample(rng)


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and Python versions."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@dataclass
class LossSpec:
    """How a student's output becomes a loss."""

    label_smoothing: float = 0.1
    kd_ratio: float = 1.0
    kd_normalise: bool = False
    exit_loss_weights: Sequence[float] = (1.0,)
    all_exits: tuple[int, ...] | None = None  # set: train every exit at once with the AEP loss

    def __call__(self, out: Tensor | Sequence[Tensor], y: Tensor, soft: Tensor | None) -> Tensor:
        if self.all_exits is not None:
            return aep_loss(out, y, self.exit_loss_weights, self.label_smoothing)
        return distillation_loss(out, y, soft, smoothing=self.label_smoothing, kd_ratio=self.kd_ratio,
                                 normalise=self.kd_normalise)


@dataclass
class StepTimes:
    """Seconds spent per part of the step (for bench/train.py and the throughput figure)."""

    data: float = 0.0
    sampling: float = 0.0
    teacher: float = 0.0
    forward_backward: float = 0.0
    optimizer: float = 0.0
    images: int = 0
    steps: int = 0

    @property
    def total(self) -> float:
        return self.data + self.sampling + self.teacher + self.forward_backward + self.optimizer

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("data", "sampling", "teacher", "forward_backward", "optimizer", "images", "steps")}


@dataclass
class EpochContext:
    """Everything `run_epoch` needs besides the batches."""

    supernet: nn.Module
    optimizer: torch.optim.Optimizer
    schedule: WarmupCosine
    sampler: SubnetSampler
    loss: LossSpec
    subnets_per_step: int
    dist: DistContext
    teacher: Teacher | None = None
    grad_clip: float | None = None
    channels_last: bool = True
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    seed_parts: tuple[int, ...] = (0,)  # (seed, phase, epoch): sampling seeds derive from these
    phase_name: str = ""
    epoch: int = 0
    sync_timing: bool = False  # cuda.synchronize around timed parts (benchmarks only)
    params: list[nn.Parameter] = field(default_factory=list)
    # Steps between reads of the loss on the host. Each read waits for the device, so on an
    # accelerator reading every step keeps the host from queueing the next step's launches while
    # the device works. None: every step on the CPU (where reading costs nothing), every
    # DEVICE_SYNC_EVERY steps elsewhere. A non-finite loss is still caught before the epoch ends.
    sync_every: int | None = None

    def resolved_sync_every(self) -> int:
        if self.sync_every is not None:
            return max(1, int(self.sync_every))
        return 1 if self.dist.device.type == "cpu" else DEVICE_SYNC_EVERY


DEVICE_SYNC_EVERY = 25


def _now(sync: bool, device: torch.device) -> float:
    if sync and device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class _LossReader:
    """The steps' losses, kept on the device and read on the host in bursts; the first non-finite one
    stops the phase (TrainingDivergedError) before the next read."""

    def __init__(self, ec: EpochContext, first_step: int, on_step: Callable[[int, float, int], None] | None) -> None:
        self.ec, self.first_step, self.on_step = ec, first_step, on_step
        self.pending: list[tuple[int, Tensor, int]] = []  # (step in epoch, [mean loss, non-finite flag], images)

    def add(self, i: int, stats: Tensor, images: int) -> None:
        self.pending.append((i, stats, images))

    def settle(self) -> float:
        """Read the pending steps' losses on the host (their sum)."""
        if not self.pending:
            return 0.0
        total = 0.0
        values = torch.stack([st for _, st, _ in self.pending]).cpu().tolist()
        for (i, _, images), (mean_loss, nonfinite) in zip(self.pending, values):
            if nonfinite > 0 or not math.isfinite(mean_loss):
                raise self._diverged(i, mean_loss)
            total += mean_loss
            if self.on_step is not None:
                self.on_step(i, mean_loss, images)
        self.pending.clear()
        return total

    def _diverged(self, i: int, mean_loss: float) -> TrainingDivergedError:
        ec, step = self.ec, self.first_step + i
        return TrainingDivergedError(
            f"the training loss became {mean_loss} in phase '{ec.phase_name}', epoch {ec.epoch + 1}, "
            f"step {i + 1} (lr {ec.schedule(step):.3g}); the phase stopped and the last good checkpoint is kept",
            "lower the learning rate and clip the gradients",
            phase=ec.phase_name,
        )


def _next_batch(ec: EpochContext, it: Iterator[tuple[Tensor, Tensor]], i: int, n_steps: int) -> tuple[Tensor, Tensor]:
    """The next batch on the device, in the activation layout the step runs in."""
    device = ec.dist.device
    try:
        x, y = next(it)
    except StopIteration:
        raise RuntimeError(f"the data loader gave {i} batches; the epoch needs {n_steps}") from None
    x = x.to(device, non_blocking=True)
    y = y.to(device, non_blocking=True)
    # The loaders hand out channels_last batches: on the CPU the fastest activation layout whatever
    # the weights' (pointwise convolutions run as GEMMs over it). On a GPU, elastic (sliced) weights
    # make channels_last activations many times slower than NCHW, so there the config decides.
    if ec.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    elif device.type != "cpu":
        x = x.contiguous()
    return x, y


def _soft_labels(ec: EpochContext, x: Tensor) -> Tensor | None:
    """The teacher's soft labels, once per batch (none for the all-exit loss or without distillation)."""
    if ec.teacher is None or ec.loss.all_exits is not None or ec.loss.kd_ratio <= 0:
        return None
    with ec.autocast():
        return ec.teacher.soft_labels(x)


def _backward_subnets(ec: EpochContext, x: Tensor, y: Tensor, soft: Tensor | None, step: int, times: StepTimes) -> Tensor:
    """Forward and backward `subnets_per_step` sampled subnets (gradients accumulate); the summed loss."""
    net = ec.supernet
    step_loss = torch.zeros((), device=ec.dist.device)
    for j in range(ec.subnets_per_step):
        ts = time.perf_counter()
        cfg = ec.sampler.sample(np.random.default_rng([*ec.seed_parts, step, j]))
        net.set_active_subnet(cfg)
        times.sampling += time.perf_counter() - ts
        with ec.autocast():
            out = net(x, exits=list(ec.loss.all_exits)) if ec.loss.all_exits is not None else net(x)
        loss = ec.loss(out, y, soft)
        loss.backward()
        step_loss += loss.detach().float()
    return step_loss


def _step_optimizer(ec: EpochContext, params: list[nn.Parameter], reader: _LossReader, every: int) -> float:
    """Clip and step; the losses read meanwhile (every step on the CPU: before stepping, so a non-finite
    loss never reaches the weights; every `every` steps elsewhere)."""
    total = reader.settle() if every == 1 else 0.0
    if ec.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(params, ec.grad_clip)
    ec.optimizer.step()
    if len(reader.pending) >= every:
        total += reader.settle()
    return total


def run_epoch(ec: EpochContext, batches: Iterator[tuple[Tensor, Tensor]], n_steps: int, first_step: int,
              on_step: Callable[[int, float, int], None] | None = None, times: StepTimes | None = None) -> float:
    """Train one epoch of `n_steps` optimiser steps; returns the mean (rank-averaged) loss.

    `first_step` is the phase-global index of the epoch's first step (for the lr schedule).
    `on_step(step_in_epoch, loss, images)` is called after each step (progress bars), in bursts of
    `ec.sync_every` steps on an accelerator: the losses stay on the device until then.
    """
    device, sync = ec.dist.device, ec.sync_timing
    params = ec.params or [p for p in ec.supernet.parameters() if p.requires_grad]
    times = times if times is not None else StepTimes()
    every = ec.resolved_sync_every()
    reader = _LossReader(ec, first_step, on_step)
    ec.supernet.train()
    loss_total = 0.0
    it = iter(batches)
    for i in range(n_steps):
        step = first_step + i
        t0 = _now(sync, device)
        x, y = _next_batch(ec, it, i, n_steps)
        t1 = _now(sync, device)
        set_lr(ec.optimizer, ec.schedule(step))
        soft = _soft_labels(ec, x)
        t2 = _now(sync, device)
        ec.optimizer.zero_grad(set_to_none=True)
        step_loss = _backward_subnets(ec, x, y, soft, step, times)
        t3 = _now(sync, device)
        stats = torch.stack([step_loss / ec.subnets_per_step, (~torch.isfinite(step_loss)).float()])
        images = int(x.shape[0]) * ec.dist.world_size
        reader.add(i, average_gradients(params, ec.dist, stats), images)
        loss_total += _step_optimizer(ec, params, reader, every)
        t4 = _now(sync, device)
        times.data, times.teacher = times.data + t1 - t0, times.teacher + t2 - t1
        times.forward_backward, times.optimizer = times.forward_backward + t3 - t2, times.optimizer + t4 - t3
        times.images, times.steps = times.images + images, times.steps + 1
    loss_total += reader.settle()
    return loss_total / max(1, n_steps)
