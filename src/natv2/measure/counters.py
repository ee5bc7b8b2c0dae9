"""Params and MACs of any `nn.Module` by running it once with forward hooks.

The counter uses the same convention as the closed form (`natv2.measure.costs`): MACs of every
Conv1d/2d/3d (Cout*out_spatial*(Cin/groups)*prod(kernel)) and Linear (in*out per output row) at
batch 1, nothing else; params = sum(p.numel()) over all parameters. Integer arithmetic throughout
(OFA's counter accumulates in float32 and so drifts by a few MACs above 2**24).

Hooks see only modules: a network that calls `F.conv2d` directly is under-counted. `count_macs(...,
method="dispatch")` counts at the ATen level instead (torch.utils.flop_counter), which also catches
functional calls. It counts what actually runs: natv2's depthwise fast path skips kernel taps that can
only meet zero padding (late stages at low resolution), so there it is below the nominal convention;
where no tap is skipped (e.g. inputs of 128 px and more) the two agree on every natv2 network (tested).
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (each shared tensor counted once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _conv_macs(m: nn.Module, out: torch.Tensor) -> int:
    """All output elements (whole batch) times the MACs each one needs."""
    return out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)


def _linear_macs(m: nn.Linear, out: torch.Tensor) -> int:
    """Output rows (whole batch) times in*out."""
    return out.numel() // m.out_features * m.in_features * m.out_features


def _input(module: nn.Module, input_size: Sequence[int] | int, channels: int = 3) -> torch.Tensor:
    if isinstance(input_size, int):
        shape: tuple[int, ...] = (1, channels, input_size, input_size)
    else:
        shape = tuple(int(v) for v in input_size)
        if len(shape) == 3:
            shape = (1,) + shape
    try:
        p = next(module.parameters())
        device, dtype = p.device, p.dtype
    except StopIteration:
        device, dtype = torch.device("cpu"), torch.float32
    return torch.zeros(shape, device=device, dtype=dtype)


def count_macs(module: nn.Module, input_size: Sequence[int] | int, method: str = "hooks") -> int:
    """Multiply-accumulates of one forward pass at batch 1.

    input_size: an int r (means 1x3xrxr), (C, H, W) or (1, C, H, W); a batch >1 is divided out.
    method: "hooks" (module forward hooks, as OFA's counter) or "dispatch" (ATen-level count).
    The module's train/eval mode is restored afterwards; the forward runs in eval mode under no_grad.
    """
    x = _input(module, input_size)
    was_training = module.training
    module.eval()
    try:
        if method == "hooks":
            return _count_by_hooks(module, x)
        if method == "dispatch":
            return _count_by_dispatch(module, x)
        raise ValueError(f"unknown MAC counting method {method!r}; use 'hooks' or 'dispatch'")
    finally:
        module.train(was_training)


def _count_by_hooks(module: nn.Module, x: torch.Tensor) -> int:
    total = [0]

    def conv_hook(m: nn.Module, _inp: object, out: torch.Tensor) -> None:
        total[0] += _conv_macs(m, out)

    def linear_hook(m: nn.Module, _inp: object, out: torch.Tensor) -> None:
        total[0] += _linear_macs(m, out)  # type: ignore[arg-type]

    handles = []
    for m in module.modules():
        if isinstance(m, _CONVS):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        for h in handles:
            h.remove()
    del out
    return total[0] // x.shape[0]


def _count_by_dispatch(module: nn.Module, x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        module(x)
    flops = counter.get_total_flops()  # 2 FLOPs per MAC for conv / mm
    return flops // 2 // x.shape[0]
