"""Static layers of (OFA / OFAv2) MobileNetV3 networks.

These hold exactly the weights one subnet uses; the elastic supernet fills them with sliced copies
of its own weights when a subnet is extracted. Every layer can describe itself as a JSON-able
`config` and be rebuilt from it (see `natv2.nn.network.build_layer`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import nn

from natv2.nn.ops import build_act, conv1x1, depthwise_conv, same_padding


@dataclass(frozen=True)
class BNParams:
    """Batch-norm hyper-parameters shared by every BN of a network (OFA: momentum 0.1, eps 1e-5)."""

    momentum: float = 0.1
    eps: float = 1e-5

    def make(self, channels: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(channels, eps=self.eps, momentum=self.momentum)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "BNParams":
        return cls(**dict(data or {}))


class FastConv2d(nn.Conv2d):
    """nn.Conv2d whose forward takes the exact fast paths of `natv2.nn.ops` where they apply.

    Pointwise stride-1 convs run as a GEMM on channels_last inputs; depthwise convs crop kernel taps
    that can only meet zero padding. Same parameters, hooks and results as nn.Conv2d.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        k, s, g = self.kernel_size, self.stride, self.groups
        same = self.padding == (k[0] // 2, k[1] // 2) and self.dilation == (1, 1)
        if k == (1, 1) and s == (1, 1) and g == 1 and same:
            self._path = "pointwise"
        elif g == self.in_channels == self.out_channels and self.bias is None and k[0] == k[1] and s[0] == s[1] and same:
            self._path = "depthwise"
        else:
            self._path = "conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._path == "pointwise":
            return conv1x1(x, self.weight, self.bias)
        if self._path == "depthwise":
            return depthwise_conv(x, self.weight, self.stride[0])
        return super().forward(x)


class ConvBNAct(nn.Module):
    """conv -> (BN) -> (activation): OFA's ConvLayer in weight_bn_act order."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        use_bn: bool = True,
        act: str | None = "relu",
        bn: BNParams = BNParams(),
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.groups = kernel_size, stride, groups
        self.act_name = act or "none"
        self.conv = FastConv2d(
            in_channels, out_channels, kernel_size, stride, same_padding(kernel_size), groups=groups, bias=bias
        )
        self.bn = bn.make(out_channels) if use_bn else None
        self.act = None if self.act_name == "none" else build_act(self.act_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x

    @property
    def config(self) -> dict[str, Any]:
        return {
            "type": "conv",
            "in": self.in_channels,
            "out": self.out_channels,
            "k": self.kernel_size,
            "stride": self.stride,
            "groups": self.groups,
            "bias": self.conv.bias is not None,
            "bn": self.bn is not None,
            "act": self.act_name,
        }

    @classmethod
    def from_config(cls, c: Mapping[str, Any], bn: BNParams) -> "ConvBNAct":
        return cls(c["in"], c["out"], c["k"], c["stride"], c.get("groups", 1), c.get("bias", False), c.get("bn", True), c["act"], bn)


class SqueezeExcite(nn.Module):
    """Squeeze-excite: global pool -> 1x1 reduce (+bias) -> ReLU -> 1x1 expand (+bias) -> h_sigmoid -> scale."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = FastConv2d(channels, hidden, 1, bias=True)
        self.expand = FastConv2d(hidden, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = torch.relu(self.reduce(s))
        s = nn.functional.hardsigmoid(self.expand(s))
        return x * s


class MBConv(nn.Module):
    """Inverted residual block: [1x1 expand + BN + act] -> kxk depthwise + BN + act (+SE) -> 1x1 project + BN.

    `residual` adds the identity shortcut (stride 1 and in == out); the add is out of place.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        mid_channels: int,
        kernel_size: int,
        stride: int,
        act: str,
        se_channels: int = 0,
        expand: bool = True,
        residual: bool = False,
        bn: BNParams = BNParams(),
    ) -> None:
        super().__init__()
        if residual and (stride != 1 or in_channels != out_channels):
            raise ValueError("an identity shortcut needs stride 1 and in_channels == out_channels")
        if not expand and mid_channels != in_channels:
            raise ValueError("a block without expansion has mid_channels == in_channels")
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid_channels
        self.kernel_size, self.stride, self.act_name = kernel_size, stride, act
        self.residual = residual
        self.expand = ConvBNAct(in_channels, mid_channels, 1, act=act, bn=bn) if expand else None
        self.depthwise = ConvBNAct(mid_channels, mid_channels, kernel_size, stride, groups=mid_channels, act=act, bn=bn)
        self.se = SqueezeExcite(mid_channels, se_channels) if se_channels else None
        self.project = ConvBNAct(mid_channels, out_channels, 1, act=None, bn=bn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.depthwise(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        return y + x if self.residual else y

    @property
    def config(self) -> dict[str, Any]:
        return {
            "type": "mbconv",
            "in": self.in_channels,
            "out": self.out_channels,
            "mid": self.mid_channels,
            "k": self.kernel_size,
            "stride": self.stride,
            "act": self.act_name,
            "se": 0 if self.se is None else self.se.reduce.out_channels,
            "expand": self.expand is not None,
            "residual": self.residual,
        }

    @classmethod
    def from_config(cls, c: Mapping[str, Any], bn: BNParams) -> "MBConv":
        return cls(c["in"], c["out"], c["mid"], c["k"], c["stride"], c["act"], c.get("se", 0), c.get("expand", True), c.get("residual", False), bn)


class TransformBranch(nn.Module):
    """OFAv2's transformation branch: max-pool (k=s, ceil) if strided, 1x1 conv (+bias) if channels change, BN, act."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, act: str, bn: BNParams = BNParams()) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride, self.act_name = in_channels, out_channels, stride, act
        self.pool = nn.MaxPool2d(stride, stride, ceil_mode=True) if stride > 1 else None
        self.conv = FastConv2d(in_channels, out_channels, 1, bias=True) if in_channels != out_channels else None
        self.bn = bn.make(out_channels)
        self.act = build_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        if self.conv is not None:
            x = self.conv(x)
        return self.act(self.bn(x))

    @property
    def config(self) -> dict[str, Any]:
        return {"type": "transform", "in": self.in_channels, "out": self.out_channels, "stride": self.stride, "act": self.act_name}

    @classmethod
    def from_config(cls, c: Mapping[str, Any], bn: BNParams) -> "TransformBranch":
        return cls(c["in"], c["out"], c["stride"], c["act"], bn)


PARALLEL_BRANCHES = ("mbconv", "conv1x1", "transform")
"""Branch names of an OFAv2 parallel block, in mask-bit order (MBConv, 1x1 conv, transformation)."""


class ParallelBlock(nn.Module):
    """OFAv2 parallel block: the active branches see the same input and their outputs are summed.

    With only the MBConv branch active (mask key 4) it is exactly the plain residual MBConv block.
    """

    def __init__(self, branches: Mapping[str, nn.Module]) -> None:
        super().__init__()
        unknown = set(branches) - set(PARALLEL_BRANCHES)
        if unknown or not branches:
            raise ValueError(f"parallel branches must be a non-empty subset of {PARALLEL_BRANCHES}, got {sorted(branches)}")
        self.branches = nn.ModuleDict({name: branches[name] for name in PARALLEL_BRANCHES if name in branches})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for branch in self.branches.values():
            y = branch(x)
            out = y if out is None else out + y
        return out

    @property
    def config(self) -> dict[str, Any]:
        return {"type": "parallel", "branches": {name: m.config for name, m in self.branches.items()}}


class ExitHead(nn.Module):
    """Exit stage: 1x1 conv + BN + h_swish -> global pool -> 1x1 conv (no BN, no bias) + h_swish -> dropout ->
    linear."""

    def __init__(
        self, in_channels: int, expand_channels: int, feature_channels: int, n_classes: int, dropout: float = 0.1, bn: BNParams = BNParams()
    ) -> None:
        super().__init__()
        self.final_expand = ConvBNAct(in_channels, expand_channels, 1, act="h_swish", bn=bn)
        self.feature_mix = ConvBNAct(expand_channels, feature_channels, 1, use_bn=False, act="h_swish", bn=bn)
        self.dropout_rate = float(dropout)
        self.dropout = nn.Dropout(self.dropout_rate) if self.dropout_rate > 0 else None
        self.classifier = nn.Linear(feature_channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_expand(x)
        x = x.mean((2, 3), keepdim=True)
        x = self.feature_mix(x)
        x = torch.flatten(x, 1)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.classifier(x)

    @property
    def config(self) -> dict[str, Any]:
        return {
            "type": "exit",
            "in": self.final_expand.in_channels,
            "expand": self.final_expand.out_channels,
            "feature": self.feature_mix.out_channels,
            "n_classes": self.classifier.out_features,
            "dropout": self.dropout_rate,
        }

    @classmethod
    def from_config(cls, c: Mapping[str, Any], bn: BNParams) -> "ExitHead":
        return cls(c["in"], c["expand"], c["feature"], c["n_classes"], c.get("dropout", 0.0), bn)
