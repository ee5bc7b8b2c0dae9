"""Stand-alone torch modules for single `Layer`s, used to time them for the latency table.

Each builder makes a randomly initialised module with exactly the operations (and the params/MACs)
the extracted network runs for that layer; a test checks params and MACs against the closed form.
They are not the supernet's classes on purpose: the table must be buildable from the layer plan alone.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from natv2.measure.layout import Layer, mid_channels, se_channels

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),
    "h_swish": lambda: nn.Hardswish(inplace=True),
}


def _act(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def _conv_bn_act(cin: int, cout: int, k: int, stride: int, act: str | None, groups: int = 1) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(_act(act))
    return nn.Sequential(*layers)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        red = se_channels(channels)
        self.reduce = nn.Conv2d(channels, red, 1, bias=True)
        self.expand = nn.Conv2d(red, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3), keepdim=True)
        y = torch.relu(self.reduce(y))
        return x * nn.functional.hardsigmoid(self.expand(y))


class MBConv(nn.Module):
    def __init__(self, L: Layer) -> None:
        super().__init__()
        mid = mid_channels(L.cin, L.e)
        self.expand = _conv_bn_act(L.cin, mid, 1, 1, L.act) if L.e != 1 else nn.Identity()
        self.depthwise = _conv_bn_act(mid, mid, L.k, L.stride, L.act, groups=mid)
        self.se = SqueezeExcite(mid) if L.se else nn.Identity()
        self.project = _conv_bn_act(mid, L.cout, 1, 1, None)
        self.residual = L.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        return y + x if self.residual else y


class Transformation(nn.Module):
    def __init__(self, L: Layer) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(L.stride, L.stride, ceil_mode=True) if L.stride > 1 else nn.Identity()
        self.conv = nn.Conv2d(L.cin, L.cout, 1, bias=True) if L.cin != L.cout else nn.Identity()
        self.bn = nn.BatchNorm2d(L.cout)
        self.act = _act(L.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(self.pool(x))))


class AddN(nn.Module):
    """`n` out-of-place elementwise additions (dense skips, parallel branch sums)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for _ in range(self.n):
            y = y + x
        return y


class ExitHead(nn.Module):
    def __init__(self, L: Layer) -> None:
        super().__init__()
        c1, c2, n_classes = L.extra
        self.expand = _conv_bn_act(L.cin, c1, 1, 1, L.act)
        self.mix = nn.Sequential(nn.Conv2d(c1, c2, 1, bias=False), _act(L.act))
        self.classifier = nn.Linear(c2, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x).mean((2, 3), keepdim=True)
        return self.classifier(torch.flatten(self.mix(y), 1))


# Registry: layer kind -> module builder.
BUILDERS: dict[str, Callable[[Layer], nn.Module]] = {
    "first_conv": lambda L: _conv_bn_act(L.cin, L.cout, L.k, L.stride, L.act),
    "mbconv": MBConv,
    "conv1x1": lambda L: _conv_bn_act(L.cin, L.cout, 1, L.stride, L.act),
    "transform": Transformation,
    "add": lambda L: AddN(L.extra[0]),
    "exit_head": ExitHead,
}


def build_layer(layer: Layer) -> nn.Module:
    """A fresh module running exactly `layer`."""
    return BUILDERS[layer.kind](layer)


def layer_input_shape(layer: Layer, batch_size: int = 1) -> tuple[int, int, int, int]:
    """Input shape of `layer` (adds take the already-strided output map)."""
    return (batch_size, layer.cin, layer.h, layer.h)
