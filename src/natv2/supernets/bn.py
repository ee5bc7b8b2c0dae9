"""BN re-calibration (spec §1.4): exact average of batch statistics over calibration batches."""

from __future__ import annotations

import copy
from typing import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from natv2.errors import DataError


class _StatsAccumulator:
    """Batch-size-weighted sums of each BN input's per-channel mean and biased variance."""

    def __init__(self) -> None:
        self.mean_sum: torch.Tensor | None = None
        self.var_sum: torch.Tensor | None = None
        self.count = 0

    def __call__(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].detach()
        dims = [d for d in range(x.dim()) if d != 1]
        xd = x.double()
        mean = xd.mean(dim=dims)
        shape = [1] * x.dim()
        shape[1] = -1
        var = (xd - mean.view(shape)).pow(2).mean(dim=dims)
        n = x.shape[0]
        if self.mean_sum is None:
            self.mean_sum, self.var_sum = mean * n, var * n
        elif self.mean_sum.numel() != mean.numel():
            raise ValueError("a batch-norm layer saw inputs of different widths during re-calibration")
        else:
            self.mean_sum += mean * n
            self.var_sum += var * n
        self.count += n


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor], inplace: bool = False) -> nn.Module:
    """Reset every BN's running statistics to the exact average of its batch statistics.

    Runs `model` on `batches` with each BN normalising by the current batch (train-mode BN; every other
    module in eval mode, so dropout is off), records each BN input's per-channel mean and biased
    variance, and writes their batch-size-weighted averages into `running_mean` / `running_var` (the
    first C entries for an elastic BN used at width C). This is OFA's `set_running_statistics`: a
    plain average, not an exponential moving one. Works on a `Supernet` (active subnet) or an
    extracted network; returns a deep copy unless `inplace`.
    """
    target = model if inplace else copy.deepcopy(model)
    modes = {m: m.training for m in target.modules()}
    bns = [m for m in target.modules() if isinstance(m, _BatchNorm)]
    stats = {m: _StatsAccumulator() for m in bns}
    handles = [m.register_forward_pre_hook(stats[m]) for m in bns]
    try:
        target.eval()
        for m in bns:
            m.train()
        param = next(target.parameters(), None)
        n_batches = 0
        for batch in batches:
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            if param is not None:
                x = x.to(device=param.device, dtype=param.dtype)
            target(x)
            n_batches += 1
        if n_batches == 0:
            raise DataError("BN re-calibration got no batches", "pass a non-empty iterable of input batches")
    finally:
        for h in handles:
            h.remove()
        for m, was_training in modes.items():
            m.train(was_training)
    for m, acc in stats.items():
        if acc.count == 0:
            continue
        c = acc.mean_sum.numel()
        m.running_mean[:c].copy_((acc.mean_sum / acc.count).to(m.running_mean.dtype))
        m.running_var[:c].copy_((acc.var_sum / acc.count).to(m.running_var.dtype))
    return target
