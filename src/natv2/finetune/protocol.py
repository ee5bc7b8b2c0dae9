"""The two-step post-processing protocol of NATv2 (spec §4.7), for one subnet and one variant.

Step 1 takes a fresh copy of the subnet (inherited supernet weights, BN recalibrated), fine-tunes
it on TRAIN and evaluates VALIDATION after every epoch. Training stops once the validation loss
has not improved for `patience` epochs (or at `max_epochs`); E* is the epoch with the best
validation top-1 (epoch 0 = the inherited weights, so fine-tuning that never helps gives E* = 0).

Step 2 starts again from the supernet weights (fresh copy, BN recalibrated) and trains on
TRAIN ∪ VALIDATION for exactly E* epochs with the same schedule, so it sees the learning rates
step 1 saw over those epochs.

TEST is touched only after all training is over: once for the final model and (when
`evaluate_before`) once for the inherited model, and neither number feeds back into any choice.
The authors' script instead swaps the validation loader for the test split in step 2 and keeps
early stopping active on it, which selects the epoch on test; we deliberately do not.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol, Sequence

import torch
from torch import nn

from natv2.finetune import loop
from natv2.finetune.config import FinetuneConfig
from natv2.finetune.loop import Batch, CosineFloor, EvalResult
from natv2.finetune.objectives import Objective


class FinetuneData(Protocol):
    """The splits one subnet is fine-tuned on, at the subnet's resolution."""

    def train_batches(self, epoch: int, include_val: bool) -> Iterable[Batch]:
        """Augmented, shuffled (seeded by epoch) training batches; with `include_val`, of TRAIN ∪ VAL. Sized."""

    def eval_batches(self, split: str) -> Iterable[Batch]:
        """Un-augmented batches of split 'val' or 'test'."""

    def calib_batches(self) -> Sequence[torch.Tensor]:
        """Images for BN recalibration (a subset of TRAIN)."""


Recalibrate = Callable[[nn.Module, Sequence[torch.Tensor]], nn.Module]
Evaluate = Callable[..., EvalResult]


@dataclass(frozen=True)
class OptimSpec:
    """Optimiser name, learning rate and weight decay chosen for this subnet and variant."""

    name: str
    lr: float
    weight_decay: float

    @classmethod
    def from_config(cls, cfg: FinetuneConfig, variant: str, early_exit_supernet: bool) -> "OptimSpec":
        name, lr = cfg.optimizer_for(variant, early_exit_supernet)
        wd = cfg.weight_decay_sgd if name == "sgd" else cfg.weight_decay_adamw
        return cls(name, lr, wd)


@dataclass
class TwoStepResult:
    """What the protocol found: E*, the step-1 curve, before / after accuracies, and the final model."""

    e_star: int
    epochs_run: int
    stopped_early: bool
    best_val_top1: float
    history: list[dict[str, Any]]
    before: dict[str, dict]
    after: dict[str, dict]
    optimizer: dict[str, Any]
    seconds: dict[str, float]
    model: nn.Module = field(repr=False, default=None)  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        return {
            "e_star": self.e_star,
            "epochs_run": self.epochs_run,
            "stopped_early": self.stopped_early,
            "best_val_top1": self.best_val_top1,
            "history": self.history,
            "before": self.before,
            "after": self.after,
            "optimizer": self.optimizer,
            "seconds": self.seconds,
        }


class TwoStepFinetuner:
    """Runs §4.7 for one subnet. `build` returns a fresh subnet with inherited weights each call.

    `evaluate` and `recalibrate` are injected so tests can watch which split is used when.
    """

    def __init__(self, cfg: FinetuneConfig, objective: Objective, optim: OptimSpec, recalibrate: Recalibrate,
                 evaluate: Evaluate = loop.evaluate, log: Callable[[str], None] | None = None, seed: int = 0,
                 device: str | torch.device = "cpu") -> None:
        self.cfg = cfg
        self.seed = seed
        self.device = torch.device(device)
        self.objective = objective
        self.optim = optim
        self.recalibrate = recalibrate
        self.evaluate = evaluate
        self.log = log or (lambda msg: None)

    # ------------------------------------------------------------------ pieces
    def _fresh(self, build: Callable[[], nn.Module], data: FinetuneData) -> nn.Module:
        model = build().to(self.device)
        if self.cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        model = self.recalibrate(model, data.calib_batches())
        return model

    def _eval(self, model: nn.Module, data: FinetuneData, split: str) -> EvalResult:
        return self.evaluate(model, data.eval_batches(split), self.objective, split=split,
                             channels_last=self.cfg.channels_last)

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return loop.make_optimizer(model, self.optim.name, self.optim.lr, self.optim.weight_decay,
                                   self.cfg.momentum, self.cfg.no_decay_bn_bias)

    def _schedule(self) -> CosineFloor:
        return CosineFloor(self.optim.lr, self.cfg.eta_min, self.cfg.cosine_period)

    def _train(self, model: nn.Module, data: FinetuneData, epoch: int, include_val: bool,
               optimizer: torch.optim.Optimizer) -> dict:
        return loop.train_epoch(model, data.train_batches(epoch, include_val), self.objective, optimizer,
                                self._schedule(), epoch, self.cfg.channels_last)

    # ------------------------------------------------------------------ protocol
    def search_epochs(self, build: Callable[[], nn.Module], data: FinetuneData) -> tuple[int, list[dict], bool, EvalResult]:
        """Step 1: train on TRAIN, validate every epoch; return (E*, history, stopped_early, epoch-0 val)."""
        cfg = self.cfg
        torch.manual_seed(self.seed)
        model = self._fresh(build, data)
        start = self._eval(model, data, "val")
        history = [{"epoch": 0, "val_top1": start.top1, "val_loss": start.loss}]
        best_top1, e_star = start.top1, 0
        best_loss, stale = start.loss, 0
        optimizer = self._optimizer(model)
        stopped = False
        for epoch in range(cfg.max_epochs):
            stats = self._train(model, data, epoch, include_val=False, optimizer=optimizer)
            val = self._eval(model, data, "val")
            history.append({"epoch": epoch + 1, "val_top1": val.top1, "val_loss": val.loss, **stats})
            self.log(f"step 1 epoch {epoch + 1}: val top-1 {val.top1:.4f}, loss {val.loss:.4f}")
            if val.top1 > best_top1:
                best_top1, e_star = val.top1, epoch + 1
            if val.loss < best_loss - cfg.min_delta:
                best_loss, stale = val.loss, 0
            else:
                stale += 1
            if stale >= cfg.patience and epoch + 1 < cfg.max_epochs:
                stopped = True
                break
        return e_star, history, stopped, start

    def retrain(self, build: Callable[[], nn.Module], data: FinetuneData, epochs: int) -> tuple[nn.Module, nn.Module]:
        """Step 2: a fresh subnet trained on TRAIN ∪ VAL for `epochs`; returns (final, inherited copy)."""
        torch.manual_seed(self.seed)
        model = self._fresh(build, data)
        inherited = copy.deepcopy(model)
        optimizer = self._optimizer(model)
        for epoch in range(epochs):
            stats = self._train(model, data, epoch, include_val=True, optimizer=optimizer)
            self.log(f"step 2 epoch {epoch + 1}/{epochs}: train loss {stats['train_loss']:.4f}")
        model.eval()
        return model, inherited

    def run(self, build: Callable[[], nn.Module], data: FinetuneData) -> TwoStepResult:
        t0 = time.perf_counter()
        e_star, history, stopped, start_val = self.search_epochs(build, data)
        t1 = time.perf_counter()
        model, inherited = self.retrain(build, data, e_star)
        t2 = time.perf_counter()
        # Test split: only now, after every training decision has been made.
        before = {"val": start_val.to_dict()}
        after: dict[str, dict] = {}
        if getattr(data, "has_test", True):
            after["test"] = self._eval(model, data, "test").to_dict()
            if self.cfg.evaluate_before:
                before["test"] = self._eval(inherited, data, "test").to_dict()
        t3 = time.perf_counter()
        return TwoStepResult(
            e_star=e_star,
            epochs_run=len(history) - 1,
            stopped_early=stopped,
            best_val_top1=max(h["val_top1"] for h in history),
            history=history,
            before=before,
            after=after,
            optimizer={"name": self.optim.name, "lr": self.optim.lr, "weight_decay": self.optim.weight_decay,
                       "eta_min": self.cfg.eta_min, "cosine_epochs": self.cfg.cosine_period,
                       "batch_size": self.cfg.batch_size},
            seconds={"step1": t1 - t0, "step2": t2 - t1, "test": t3 - t2},
            model=model.cpu(),
        )
