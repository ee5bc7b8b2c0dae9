"""Small building blocks shared by static and elastic networks: channel rounding and activations."""

from __future__ import annotations

from typing import Callable

import torch
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


# Activation registry: name -> module factory. "h_swish" is x * relu6(x + 3) / 6 (PyTorch's fused
# hardswish, one kernel instead of four element-wise ops), "relu" the usual in-place ReLU.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "h_swish": lambda: nn.Hardswish(),
    "h_sigmoid": lambda: nn.Hardsigmoid(),
    "none": lambda: nn.Identity(),
}

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
