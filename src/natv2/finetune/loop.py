"""One fine-tuning epoch and one evaluation pass; the optimiser and per-batch cosine schedule.

Parameter groups (no decay on BN / biases) and the cosine shape come from natv2.train.optim;
fine-tuning only adds a floor (eta_min, 1e-8 in §4.7) and the AdamW choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn

from natv2.errors import ConfigError, NatError
from natv2.finetune.objectives import Objective
from natv2.train.optim import WarmupCosine, param_groups, set_lr

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class EvalResult:
    """Top-1 accuracy in [0, 1], mean loss and image count of one pass over a split."""

    split: str
    top1: float
    loss: float
    n: int

    def to_dict(self) -> dict:
        return {"split": self.split, "top1": self.top1, "loss": self.loss, "n": self.n}


def _prepare(x: torch.Tensor, channels_last: bool, device: torch.device | None = None) -> torch.Tensor:
    if device is not None:
        x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], objective: Objective, split: str,
             channels_last: bool = False) -> EvalResult:
    """Accuracy and mean loss of `model` (eval mode) over `batches` of split `split`."""
    was_training = model.training
    model.eval()
    device = _device_of(model)
    correct, total, loss_sum = 0, 0, 0.0
    for x, y in batches:
        y = y.to(device)
        loss, logits = objective(model, _prepare(x, channels_last, device), y)
        correct += int((logits.argmax(dim=1) == y).sum())
        loss_sum += float(loss) * y.numel()
        total += y.numel()
    model.train(was_training)
    if total == 0:
        raise ConfigError(f"the {split} split gave no images to evaluate", "check the data section (split sizes)")
    return EvalResult(split, correct / total, loss_sum / total, total)


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": lambda groups, lr, momentum: torch.optim.SGD(groups, lr=lr, momentum=momentum),
    "adamw": lambda groups, lr, momentum: torch.optim.AdamW(groups, lr=lr),
}


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float, momentum: float,
                   no_decay_bn_bias: bool) -> torch.optim.Optimizer:
    try:
        build = OPTIMIZERS[name]
    except KeyError:
        raise ConfigError(f"unknown fine-tuning optimiser {name!r}", f"use one of {sorted(OPTIMIZERS)}") from None
    return build(param_groups(model, weight_decay, no_decay_bn_bias), lr, momentum)


@dataclass(frozen=True)
class CosineFloor:
    """lr at fractional epoch t: eta_min + (base - eta_min)(1 + cos(pi t / period)) / 2, held after `period`."""

    base_lr: float
    eta_min: float
    period_epochs: int

    def at(self, epoch: int, batch: int, batches_per_epoch: int) -> float:
        shape = WarmupCosine(self.base_lr - self.eta_min, 0, self.period_epochs * batches_per_epoch)
        return self.eta_min + shape(epoch * batches_per_epoch + batch)


def _length(batches: Iterable[Batch]) -> int:
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        raise ConfigError("the training loader must know its length (batches per epoch)",
                          "give a sized loader (the cosine schedule is stepped per batch)") from None


def train_epoch(model: nn.Module, batches: Iterable[Batch], objective: Objective, optimizer: torch.optim.Optimizer,
                schedule: CosineFloor, epoch: int, channels_last: bool = False) -> dict:
    """One pass over `batches`, stepping the learning rate before every batch; returns loss and accuracy."""
    n_batches = _length(batches)
    model.train()
    device = _device_of(model)
    loss_sum, correct, total, lr = 0.0, 0, 0, float("nan")
    for i, (x, y) in enumerate(batches):
        lr = schedule.at(epoch, i, n_batches)
        set_lr(optimizer, lr)
        y = y.to(device)
        loss, logits = objective(model, _prepare(x, channels_last, device), y)
        if not math.isfinite(float(loss.detach())):
            raise NatError(f"fine-tuning loss became {float(loss.detach())} in epoch {epoch + 1}, batch {i}",
                           "lower finetune.lr (or finetune.multi_exit_lr) and run again")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += float(loss.detach()) * y.numel()
        correct += int((logits.detach().argmax(dim=1) == y).sum())
        total += y.numel()
    return {"train_loss": loss_sum / max(total, 1), "train_top1": correct / max(total, 1), "lr_last": lr}
