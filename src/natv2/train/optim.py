"""Optimiser and learning-rate schedule of supernet training (spec §1.5): SGD with Nesterov
momentum, no weight decay on BN parameters and biases, linear warm-up then cosine, per batch."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


def _no_decay_names(model: nn.Module) -> set[str]:
    """Parameter names that get no weight decay: every bias and every normalisation-layer weight."""
    norm_types = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
    names: set[str] = set()
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if p_name == "bias" or isinstance(module, norm_types):
                names.add(full)
    return names


def param_groups(model: nn.Module, weight_decay: float, no_decay_bn_bias: bool = True) -> list[dict]:
    """Two groups (decay / no decay), in a stable parameter order so optimiser state can be saved by index."""
    skip = _no_decay_names(model) if no_decay_bn_bias else set()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if name in skip else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def make_sgd(model: nn.Module, lr: float, momentum: float, nesterov: bool, weight_decay: float, no_decay_bn_bias: bool) -> torch.optim.SGD:
    """SGD over `param_groups`. Not the fused CUDA kernel: it refuses a step where a parameter that
    has a momentum buffer gets no gradient, which elastic training does all the time (seen on torch 2.11)."""
    return torch.optim.SGD(param_groups(model, weight_decay, no_decay_bn_bias), lr=lr, momentum=momentum,
                           nesterov=nesterov and momentum > 0)


@dataclass(frozen=True)
class WarmupCosine:
    """lr(step): linear from start_factor·peak to peak over the warm-up steps, then cosine to 0.

    OFA counts warm-up epochs on top of the cosine epochs ("120 (+5)"), so the cosine part spans
    `cosine_steps` after `warmup_steps`.
    """

    peak_lr: float
    warmup_steps: int
    cosine_steps: int
    start_factor: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            frac = (step + 1) / self.warmup_steps
            return self.peak_lr * (self.start_factor + (1.0 - self.start_factor) * frac)
        t = min(step - self.warmup_steps, self.cosine_steps)
        return 0.5 * self.peak_lr * (1.0 + math.cos(math.pi * t / max(1, self.cosine_steps)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
