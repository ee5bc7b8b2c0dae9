"""Small building blocks shared by static and elastic networks: channel rounding and activations."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

CHANNEL_DIVISOR = 8


def make_divisible(v: float, divisor: int = CHANNEL_DIVISOR, min_val: int | None = None) -> int:
    """Round a channel count to a multiple of `divisor` as MobileNet/OFA do.

    Rounds to nearest, never below `min_val` (default: divisor), and adds one `divisor` when
    rounding down lost more than 10% (so widths never shrink by much).
    """
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return int(new_v)


def mid_channels(in_channels: int, expand_ratio: float) -> int:
    """Inverted-bottleneck width of an MBConv block: make_divisible(round(in * e), 8)."""
    return make_divisible(round(in_channels * expand_ratio), CHANNEL_DIVISOR)


def se_channels(mid: int, reduction: int = 4) -> int:
    """Hidden width of the squeeze-excite unit of a block with `mid` channels."""
    return make_divisible(mid // reduction, CHANNEL_DIVISOR)


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "h_swish": lambda: nn.Hardswish(),
    "h_sigmoid": lambda: nn.Hardsigmoid(),
    "none": lambda: nn.Identity(),
}
"""Maps an activation name to a module factory; "h_swish" is PyTorch's fused hardswish, x * relu6(x + 3) / 6 in one
kernel; "relu" the usual in-place ReLU."""

# Functional forms used by the elastic modules (no module call on the hot path).
ACTIVATION_FNS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda x: torch.relu_(x),
    "h_swish": torch.nn.functional.hardswish,
    "h_sigmoid": torch.nn.functional.hardsigmoid,
    "none": lambda x: x,
}


def build_act(name: str | None) -> nn.Module:
    """Activation module by name; unknown names fail loudly."""
    key = "none" if name is None else name
    try:
        return ACTIVATIONS[key]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


def same_padding(kernel_size: int) -> int:
    return kernel_size // 2


def _exporting() -> bool:
    """True while tracing / exporting / compiling: shape-dependent fast paths must not be baked in."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling()


def _exporting_or_compiling() -> bool:
    return _exporting() or getattr(torch.compiler, "is_exporting", lambda: False)()


def leading(t: torch.Tensor, *sizes: int) -> torch.Tensor:
    """The first `sizes[i]` entries of `t` along its leading dimensions: `t[:a, :b]`, but `t` itself
    when nothing is cut, so the maximal subnet's graph holds no slice (each one costs a full-size
    zero fill and a copy in the backward pass)."""
    if all(n == t.shape[i] for i, n in enumerate(sizes)):
        return t
    return t[tuple(slice(0, n) for n in sizes)]


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Stride-1 pointwise convolution. `weight` is (out, in, 1, 1), possibly a non-contiguous slice.

    On the CPU, channels_last inputs (and any 1x1 map) run as one GEMM over the NHWC view, which is
    faster there than the convolution primitive, much more so on the tiny maps of late stages; the
    result stays channels_last. Elsewhere conv2d: on a GPU the step is bound by the host's dispatch
    of small ops, and the GEMM view costs six more of them per call (permutes, selects, transposes)
    and as many again in the backward pass, for the same single kernel. An ONNX export writes a
    Conv, which its runtimes fuse with the following BN and quantize (a MatMul between transposes
    they do neither).
    """
    if x.device.type == "cpu" and x.is_contiguous(memory_format=torch.channels_last) and not torch.onnx.is_in_onnx_export():
        return F.linear(x.permute(0, 2, 3, 1), weight[:, :, 0, 0], bias).permute(0, 3, 1, 2)
    return F.conv2d(x, weight, bias)


def depthwise_conv(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """Depthwise kxk convolution with "same" padding k//2, computed exactly but cheaper on small maps.

    Kernel taps farther than (size - 1) from the centre only ever meet zero padding, so the kernel is
    centre-cropped to at most (2*size - 1) per axis with matching padding: same output shape, same
    values (the dropped terms are exact zeros). On a 1x1 map this is a per-channel scale. This matters
    for late stages at low resolution (e.g. 7x7 kernels on 2x2 maps at 32 px input), on the CPU; on a
    GPU the crop's extra ops (and their backward) cost more than the taps it saves.
    """
    k = weight.shape[-1]
    p = k // 2
    if _exporting_or_compiling() or x.device.type != "cpu":  # a GPU pays per op, not per tap
        return F.conv2d(x, weight, None, stride, p, 1, x.shape[1])
    h, w = x.shape[-2], x.shape[-1]
    rh, rw = min(p, h - 1), min(p, w - 1)
    if rh == p and rw == p:
        return F.conv2d(x, weight, None, stride, p, 1, x.shape[1])
    if h == 1 and w == 1:
        return x * weight[:, :, p : p + 1, p : p + 1].reshape(1, -1, 1, 1)
    weight = weight[:, :, p - rh : p + rh + 1, p - rw : p + rw + 1]
    return F.conv2d(x, weight, None, stride, (rh, rw), 1, x.shape[1])
