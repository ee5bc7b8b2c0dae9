"""Accuracy of supernet subnets: BN re-calibration, then top-1 on a held-out split (spec §1.4, §3.9).

Two paths compute the same number:

* `reference_accuracy` - the straightforward one: activate, extract, `recalibrate_bn` on the fixed
  calibration batches, evaluate batch by batch. Slow, obviously right; tests compare against it.
* `SupernetEvaluator` - the fast one the search uses (NATv2's pre-processing alone evaluates ~3,000
  subnets). What makes it fast, each exact up to float rounding:
    1. inputs prepared once: the calibration batches and the whole split, decoded, resized and
       normalised per resolution, kept as tensors (channels_last);
    2. the head (first conv + first block) is not elastic: after re-calibration its statistics are
       the same for every subnet at a resolution (same weights, same calibration batches), so its
       outputs on the calibration batches (BN in batch-statistics mode) and on the split (BN with
       the re-calibrated statistics) are computed once per resolution and reused;
    3. re-calibration reads each BN's batch mean and inverse std from the BN kernel itself
       (`torch.native_batch_norm`) instead of recomputing them in float64 in a hook;
    4. after re-calibration the BNs of the extracted subnet are folded into the preceding convs,
       activations run in place, and the split is evaluated in large batches under inference_mode.
  Candidates are grouped by resolution. The head cache follows the supernet's weights (a change
  of any head parameter, e.g. by adaptation, is detected from the tensors' version counters;
  `invalidate()` also drops it explicitly).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from natv2.data.subset_batches import labels_of, select_rows, stratified_rows
from natv2.errors import DataError
from natv2.space import SubnetConfig

SPLITS = ("val", "test", "train")


class EvalData(Protocol):
    """What the evaluator reads (natv2.train.data.SplitsTrainingData provides it)."""

    def calibration_batches(self, resolution: int) -> Sequence[Tensor]:
        """The fixed BN-recalibration subset at `resolution` (training transform, same every call)."""

    def eval_batches(self, resolution: int, split: str = "val") -> Iterable[tuple[Tensor, Tensor]]:
        """Deterministic (images, labels) batches of a split at `resolution`."""


def _device_of(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# ----------------------------------------------------------------------------- reference path
@torch.no_grad()
def reference_logits(supernet: nn.Module, cfg: SubnetConfig, data: EvalData, split: str = "val") -> tuple[Tensor, Tensor]:
    """Logits and labels of `cfg` on `split`: extract -> recalibrate_bn -> evaluate (the plain path)."""
    from natv2.supernets.bn import recalibrate_bn

    device = _device_of(supernet)
    supernet.set_active_subnet(cfg)
    net = recalibrate_bn(supernet.extract_subnet(), [b.to(device) for b in data.calibration_batches(cfg.r)], inplace=False)
    net.eval()
    outs, labels = [], []
    for x, y in data.eval_batches(cfg.r, split):
        outs.append(net(x.to(device)).float().cpu())
        labels.append(y.cpu())
    if not outs:
        raise DataError(f"the {split} split has no images", "check data.val_size / the dataset")
    return torch.cat(outs), torch.cat(labels)


def reference_accuracy(supernet: nn.Module, cfg: SubnetConfig, data: EvalData, split: str = "val") -> float:
    logits, labels = reference_logits(supernet, cfg, data, split)
    return float((logits.argmax(1) == labels).double().mean())


# ----------------------------------------------------------------------------- fast building blocks
class _StatsBN:
    """Replaces one BN's forward during re-calibration: normalise by the batch's own statistics and
    accumulate the batch-size-weighted mean and biased variance the BN kernel computed (float64 sums)."""

    def __init__(self, bn: _BatchNorm) -> None:
        self.bn = bn
        self.mean_sum: Tensor | None = None
        self.var_sum: Tensor | None = None
        self.count = 0

    def __call__(self, x: Tensor) -> Tensor:
        bn = self.bn
        out, mean, invstd = torch.native_batch_norm(x, bn.weight, bn.bias, None, None, True, 0.0, bn.eps)
        n = x.shape[0]
        var = invstd.double().pow(-2) - bn.eps  # the kernel's biased variance, back from 1/sqrt(var + eps)
        if self.mean_sum is None:
            self.mean_sum, self.var_sum = mean.double() * n, var * n
        else:
            self.mean_sum += mean.double() * n
            self.var_sum += var * n
        self.count += n
        return out

    def write(self) -> None:
        if self.count:
            self.bn.running_mean.copy_(self.mean_sum / self.count)
            self.bn.running_var.copy_((self.var_sum / self.count).clamp_min_(0.0))


@torch.no_grad()
def recalibrate_fast(net: nn.Module, batches: Iterable[Tensor], keep_outputs: bool = False) -> list[Tensor]:
    """In place: every BN's running statistics := the exact average of its batch statistics over
    `batches` (what `natv2.supernets.recalibrate_bn` computes, without the float64 hook pass).
    Returns the network's outputs per batch when `keep_outputs` (batch-statistics mode)."""
    modes = {m: m.training for m in net.modules()}
    bns = [m for m in net.modules() if isinstance(m, _BatchNorm)]
    stats = [_StatsBN(m) for m in bns]
    outs: list[Tensor] = []
    try:
        net.eval()
        for m, s in zip(bns, stats):
            m.forward = s  # instance attribute shadows the class forward
        n = 0
        for x in batches:
            y = net(x)
            n += 1
            if keep_outputs:
                outs.append(y)
        if n == 0:
            raise DataError("BN re-calibration got no batches", "check data.calib_size")
    finally:
        for m in bns:
            m.__dict__.pop("forward", None)
        for m, was in modes.items():
            m.train(was)
    for s in stats:
        s.write()
    return outs


class _AddShift(nn.Module):
    """conv(x) + per-channel shift, in place on the conv's fresh output (a folded BN's remainder)."""

    def __init__(self, conv: nn.Module, shift: Tensor) -> None:
        super().__init__()
        self.conv = conv
        self.register_buffer("shift", shift.detach().reshape(1, -1, 1, 1).clone())

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x).add_(self.shift)


@torch.no_grad()
def fold_batchnorm_(net: nn.Module) -> nn.Module:
    """Fold every conv -> BN pair of natv2's static layers (ConvBNAct) into the conv (eval only).

    The BN scale goes into the conv weights; the shift is added in place to the conv output (the
    conv's own forward, with whatever fast path it takes, is kept as it is).
    """
    from natv2.nn.layers import ConvBNAct

    for m in list(net.modules()):
        if isinstance(m, ConvBNAct) and m.bn is not None:
            conv, bn = m.conv, m.bn
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            shift = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                conv.bias.mul_(scale)
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            m.conv = _AddShift(conv, shift)
            m.bn = None
    return net


def _inplace_activations_(net: nn.Module) -> None:
    for m in net.modules():
        if isinstance(m, (nn.ReLU, nn.Hardswish, nn.Hardsigmoid, nn.ReLU6)):
            m.inplace = True


@dataclass
class _Prepared:
    """One (split, resolution): calibration batches, the split's images and labels (on device)."""

    calib: list[Tensor]
    x: Tensor | None  # None: too large to keep; streamed from the data each time
    y: Tensor | None

    @property
    def nbytes(self) -> int:
        t = sum(b.numel() * b.element_size() for b in self.calib)
        return t + (0 if self.x is None else self.x.numel() * self.x.element_size())


@dataclass
class _Head:
    """The re-calibrated head at one resolution and its cached outputs."""

    module: nn.Module
    calib: list[Tensor]  # head outputs on the calibration batches, batch-statistics BN
    x: Tensor | None  # head outputs on the split (running-statistics BN); None when streaming
    stamp: tuple


class SupernetEvaluator:
    """Top-1 accuracy (fraction) of subnets: callable list[SubnetConfig] -> list[float] (the search's `evaluate`).

    supernet: a natv2 Supernet (shared: adaptation may change its weights between calls).
    data: calibration and evaluation batches (`EvalData`). split: the split `__call__` uses.
    batch_size: images per forward when evaluating. The other switches turn single speed-ups off
    (bench/evaluate.py measures each); `cache_mb` bounds the kept tensors (larger splits stream).
    max_images: rank on a class-stratified subset of this many images of `split` (a cheaper, noisier
    fidelity; bench/fidelity.py measures both); None, or at least the split's size: the whole split.
    Other splits (e.g. the final test) are always evaluated whole.
    """

    def __init__(
        self,
        supernet: nn.Module,
        data: EvalData,
        *,
        split: str = "val",
        batch_size: int = 500,
        channels_last: bool = True,
        cache_head: bool = True,
        fast_calibration: bool = True,
        fold_bn: bool = True,
        cache_mb: float = 4096.0,
        max_images: int | None = None,
    ) -> None:
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}", f"use one of {list(SPLITS)}")
        if max_images is not None and int(max_images) < 1:
            raise DataError(f"max_images={max_images} evaluates no image", "give a count >= 1, or None for the whole split")
        self.max_images = None if max_images is None else int(max_images)
        self.supernet, self.data, self.split = supernet, data, split
        self.batch_size = int(batch_size)
        self.channels_last, self.cache_head = channels_last, cache_head
        self.fast_calibration, self.fold_bn = fast_calibration, fold_bn
        self.cache_bytes = int(cache_mb * 2**20)
        self._prepared: dict[tuple[str, int], _Prepared] = {}
        self._heads: dict[tuple[str, int], _Head] = {}
        self.n_evaluated = 0
        self.seconds = 0.0
        self._subset: np.ndarray | None = None
        self._subset_full = 0

    # ------------------------------------------------------------------ public
    def __call__(self, cfgs: Sequence[SubnetConfig]) -> list[float]:
        return self.evaluate(cfgs)

    def evaluate(self, cfgs: Sequence[SubnetConfig], split: str | None = None) -> list[float]:
        """Accuracies of `cfgs` on `split` (default: the evaluator's), in order; grouped by resolution."""
        split = split or self.split
        t0 = time.perf_counter()
        cfgs = [self.supernet.space.coerce(c) for c in cfgs]
        out: list[float] = [0.0] * len(cfgs)
        for r in sorted({c.r for c in cfgs}):
            for i, c in enumerate(cfgs):
                if c.r == r:
                    logits, labels = self._logits(c, split)
                    out[i] = float((logits.argmax(1) == labels).double().mean())
        self.n_evaluated += len(cfgs)
        self.seconds += time.perf_counter() - t0
        return out

    def logits(self, cfg: SubnetConfig, split: str | None = None) -> tuple[Tensor, Tensor]:
        """Logits (float32, CPU) and labels of one subnet on `split` via the fast path."""
        logits, labels = self._logits(self.supernet.space.coerce(cfg), split or self.split)
        return logits.float().cpu(), labels.cpu()

    def invalidate(self) -> None:
        """Drop what depends on the weights (the head caches); call after changing the supernet."""
        self._heads.clear()

    def clear(self) -> None:
        """Drop every cache (inputs too)."""
        self._heads.clear()
        self._prepared.clear()

    # ------------------------------------------------------------------ caches
    @property
    def device(self) -> torch.device:
        return _device_of(self.supernet)

    def _fmt(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x.contiguous()

    def _inputs(self, split: str, r: int) -> _Prepared:
        key = (split, r)
        hit = self._prepared.get(key)
        if hit is not None:
            return hit
        calib = [self._fmt(b) for b in self.data.calibration_batches(r)]
        xs, ys, size = [], [], 0
        for x, y in self._split_batches(split, r):
            size += x.numel() * 4
            if size > self.cache_bytes:  # too large to keep: stream it
                xs = ys = None
                break
            xs.append(self._fmt(x))
            ys.append(y.to(self.device))
        if xs is not None and not xs:
            raise DataError(f"the {split} split has no images", "check data.val_size / the dataset")
        prep = _Prepared(calib, torch.cat(xs) if xs else None, torch.cat(ys) if ys else None)
        self._evict(self._prepared, prep.nbytes)
        self._prepared[key] = prep
        return prep

    def _split_batches(self, split: str, r: int) -> Iterable[tuple[Tensor, Tensor]]:
        """The batches of `split` at `r`: all of them, or only the rows of the stratified subset."""
        if split != self.split or self.max_images is None:
            return self.data.eval_batches(r, split)
        keep = self._subset_rows(split, r)
        if keep is None:
            return self.data.eval_batches(r, split)
        return select_rows(self.data.eval_batches(r, split), keep)

    def _subset_rows(self, split: str, r: int) -> np.ndarray | None:
        """Sorted row indices of the `max_images` subset (fixed: the same for every resolution); None: all."""
        if self._subset is None:
            labels = labels_of(self.data.eval_batches(r, split))
            rows = stratified_rows(labels, self.max_images)
            self._subset = np.arange(len(labels)) if rows is None else rows
            self._subset_full = len(labels)
        return None if len(self._subset) == self._subset_full else self._subset

    @property
    def n_images(self) -> int | None:
        """Images per evaluation on the evaluator's split (known after the first evaluation)."""
        return None if self._subset is None else len(self._subset)

    def _evict(self, store: dict, incoming: int) -> None:
        """Keep the caches under `cache_mb`, dropping the oldest entries first."""
        def used() -> int:
            return sum(p.nbytes for p in self._prepared.values()) + sum(
                sum(t.numel() * t.element_size() for t in h.calib) + (0 if h.x is None else h.x.numel() * h.x.element_size())
                for h in self._heads.values())

        while store and used() + incoming > self.cache_bytes:
            store.pop(next(iter(store)))

    def _head_stamp(self) -> tuple:
        """Identity of the head weights: storage and in-place version of every head parameter."""
        sn = self.supernet
        params = list(sn.first_conv.parameters()) + list(sn.first_block.parameters())
        return tuple((p.data_ptr(), p._version) for p in params)

    @torch.no_grad()
    def _head(self, split: str, r: int, prep: _Prepared) -> _Head:
        key = (split, r)
        stamp = self._head_stamp()
        hit = self._heads.get(key)
        if hit is not None and hit.stamp == stamp:
            return hit
        if hit is not None:  # weights changed since: every cached head is stale
            self._heads.clear()
        sn = self.supernet
        head = copy.deepcopy(nn.Sequential(sn.first_conv, sn.first_block))
        if self.channels_last:
            head = head.to(memory_format=torch.channels_last)
        calib_out = self._recalibrate(head, prep.calib, keep_outputs=True)
        head.eval()
        x_out = None
        if prep.x is not None:
            with torch.inference_mode():
                x_out = torch.cat([head(prep.x[i : i + self.batch_size]) for i in range(0, len(prep.x), self.batch_size)])
        entry = _Head(head, calib_out, x_out, stamp)
        self._evict(self._heads, 0)
        self._heads[key] = entry
        return entry

    def _recalibrate(self, net: nn.Module, batches: Sequence[Tensor], keep_outputs: bool = False) -> list[Tensor]:
        if self.fast_calibration:
            return recalibrate_fast(net, batches, keep_outputs)
        from natv2.supernets.bn import recalibrate_bn

        outs: list[Tensor] = []
        if keep_outputs:  # outputs in batch-statistics mode, from a copy (train-mode BN moves running stats)
            probe = copy.deepcopy(net).eval()
            for m in probe.modules():
                if isinstance(m, _BatchNorm):
                    m.train()
            outs = [probe(b) for b in batches]
        recalibrate_bn(net, batches, inplace=True)
        return outs

    # ------------------------------------------------------------------ one subnet
    @torch.no_grad()
    def _logits(self, cfg: SubnetConfig, split: str) -> tuple[Tensor, Tensor]:
        prep = self._inputs(split, cfg.r)
        self.supernet.set_active_subnet(cfg)
        net = self.supernet.extract_subnet()
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        head = self._head(split, cfg.r, prep) if self.cache_head else None
        if head is not None:
            net.first_conv, net.first_block = nn.Identity(), nn.Identity()
            self._recalibrate(net, head.calib)
        else:
            self._recalibrate(net, prep.calib)
        net.eval()
        if self.fold_bn:
            fold_batchnorm_(net)
        _inplace_activations_(net)
        if head is not None and head.x is not None:
            source: Iterable[tuple[Tensor, Tensor | None]] = self._chunks(head.x, prep.y)
        elif prep.x is not None:
            source = self._chunks(prep.x, prep.y)
        else:  # streaming: the full network (with the re-calibrated head) on the data's batches
            if head is not None:
                net.first_conv, net.first_block = head.module, nn.Identity()
            source = ((self._fmt(x), y) for x, y in self._split_batches(split, cfg.r))
        outs, labels = [], []
        with torch.inference_mode():
            for x, y in source:
                outs.append(net(x).float())
                labels.append(y)
        return torch.cat(outs), torch.cat(labels).to(outs[0].device)

    def _chunks(self, x: Tensor, y: Tensor) -> Iterable[tuple[Tensor, Tensor]]:
        for i in range(0, len(x), self.batch_size):
            yield x[i : i + self.batch_size], y[i : i + self.batch_size]
