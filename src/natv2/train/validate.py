"""Validation during training: a fixed grid of subnets per phase, each evaluated with BN recalibrated.

The grid holds the maximal and minimal subnets of the phase's space, optionally the maximal net
with each open dimension at its minimum, and a few seeded random subnets, at the chosen
resolutions. It is a pure function of (space, seed), so every epoch and every rank sees the same.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from natv2.data.subset_batches import labels_of, select_rows, stratified_rows
from natv2.space import SearchSpace, SubnetConfig
from natv2.train.recipes import ELASTIC_DIMS


@dataclass(frozen=True)
class GridEntry:
    label: str
    config: SubnetConfig


def _resolutions(space: SearchSpace, mode: str | Sequence[int]) -> list[int]:
    if mode == "max":
        return [max(space.r)]
    if mode == "all":
        return list(space.r)
    if mode == "minmax":
        return sorted({min(space.r), max(space.r)})
    return [int(r) for r in mode]


def validation_grid(space: SearchSpace, *, n_random: int, per_dim: bool, resolutions: str | Sequence[int], seed: int) -> list[GridEntry]:
    """Distinct subnets to validate on: max, min, per-dimension minima, random; each at every resolution."""
    hi, lo = space.max_config(), space.min_config()
    archs: list[tuple[str, SubnetConfig]] = [("max", hi)]
    if lo != hi:
        archs.append(("min", lo))
    open_dims = [d for d in ELASTIC_DIMS if getattr(space, d) is not None and len(getattr(space, d)) > 1]
    if per_dim and len(open_dims) > 1:
        for dim in open_dims:
            archs.append((f"min_{dim}", replace(hi, **{dim: getattr(lo, dim)})))
    rng = np.random.default_rng([seed, 7919])
    for i in range(n_random):
        archs.append((f"rand{i}", space.sample(rng)))
    out: list[GridEntry] = []
    seen: set[SubnetConfig] = set()
    for r in _resolutions(space, resolutions):
        for label, cfg in archs:
            cfg = replace(cfg, r=r)
            if cfg in seen:
                continue
            seen.add(cfg)
            out.append(GridEntry(f"{label}@{r}", cfg))
    return out


@torch.no_grad()
def accuracy(net: nn.Module, batches: Iterable[tuple[Tensor, Tensor]], device: torch.device, *,
             channels_last: bool, autocast: Callable[[], Any]) -> tuple[float, int]:
    """Top-1 accuracy (a fraction in [0, 1]) of a single-output network over `batches`, and the number of images."""
    net.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)  # summed where the logits are: one sync at the end
    total = 0
    for x, y in batches:
        x = x.to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast():
            out = net(x)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        correct += (out.argmax(1) == y.to(out.device, non_blocking=True)).sum()
        total += int(y.numel())
    return (int(correct) / total if total else float("nan")), total


def capped_batches(batches: Iterable[tuple[Tensor, Tensor]], max_batches: int | None,
                   rows: dict[int, np.ndarray | None]) -> Iterable[tuple[Tensor, Tensor]]:
    """`batches`, or, with `max_batches`, a class-stratified subset of as many images as that many batches hold
    (not the first batches: a class-sorted split would be judged on its first classes). `rows` caches the
    subset per cap, so every subnet, epoch and resolution of a split is judged on the same images."""
    if max_batches is None:
        return batches
    if max_batches not in rows:
        batches = list(batches)
        per_batch = int(batches[0][1].shape[0]) if batches else 0
        rows[max_batches] = stratified_rows(labels_of(batches), max_batches * per_batch)
    keep = rows[max_batches]
    return batches if keep is None else select_rows(batches, keep)


def calibrated_subnet(supernet: nn.Module, cfg: SubnetConfig, calib: Sequence[Tensor], device: torch.device,
                      recalibrate: Callable[..., nn.Module], channels_last: bool) -> nn.Module:
    """The static subnet `cfg`, extracted from the supernet, with BN statistics recomputed on `calib`."""
    supernet.set_active_subnet(cfg)
    net = supernet.extract_subnet()
    if _shares_storage(net, supernet):
        net = copy.deepcopy(net)  # recalibration must never touch the supernet's own statistics
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    batches = [b.to(device) for b in calib]
    if channels_last:
        batches = [b.contiguous(memory_format=torch.channels_last) for b in batches]
    out = recalibrate(net, batches, inplace=True)
    return out if out is not None else net


def _shares_storage(a: nn.Module, b: nn.Module) -> bool:
    ptrs = {t.untyped_storage().data_ptr() for t in list(b.parameters()) + list(b.buffers())}
    return any(t.untyped_storage().data_ptr() in ptrs for t in list(a.parameters()) + list(a.buffers()))
