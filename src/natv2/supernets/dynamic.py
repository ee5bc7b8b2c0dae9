"""Elastic modules: weights of the largest block, run at the active kernel size / expand ratio.

Active channels are always the first C of every tensor (spec §1.2); smaller depthwise kernels are
the centre of the largest one passed through per-layer trainable transformation matrices
(7->5, 5->3, identity-initialised). State lives on the module instances (no class-level switches).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from natv2.nn.layers import PARALLEL_BRANCHES, BNParams, ConvBNAct, MBConv, ParallelBlock, TransformBranch
from natv2.nn.ops import ACTIVATION_FNS, conv1x1, depthwise_conv, leading, mid_channels, se_channels
from natv2.nn.stages import Stage, run_blocks


class DynamicBatchNorm2d(nn.BatchNorm2d):
    """Batch norm over the first C channels of its parameters and running statistics (C = input channels).

    At full width it is a plain BatchNorm2d; narrower inputs use (and, in training, update) views of
    the first C entries, so the running statistics of wider subnets are not touched beyond C.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        if c == self.num_features:
            return super().forward(x)
        if self.training:
            self.num_batches_tracked.add_(1)
        return F.batch_norm(
            x,
            self.running_mean[:c],
            self.running_var[:c],
            self.weight[:c],
            self.bias[:c],
            self.training,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )


def _dyn_bn(channels: int, bn: BNParams) -> DynamicBatchNorm2d:
    return DynamicBatchNorm2d(channels, eps=bn.eps, momentum=bn.momentum)


class _ConvBN(nn.Module):
    """Weight holder: a max-size conv and its BN (the elastic block runs them functionally)."""

    def __init__(self, cin: int, cout: int, bn: BNParams) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = _dyn_bn(cout, bn)


class ElasticDepthwise(nn.Module):
    """Depthwise conv of the largest kernel plus the kernel transformation matrices and BN."""

    def __init__(self, channels: int, kernel_sizes: Sequence[int], stride: int, bn: BNParams) -> None:
        super().__init__()
        self.kernel_sizes = tuple(sorted(int(k) for k in kernel_sizes))
        self.k_max = self.kernel_sizes[-1]
        self.stride = stride
        self.conv = nn.Conv2d(channels, channels, self.k_max, stride, self.k_max // 2, groups=channels, bias=False)
        self.bn = _dyn_bn(channels, bn)
        desc = self.kernel_sizes[::-1]
        for big, small in zip(desc[:-1], desc[1:]):
            self.register_parameter(self.matrix_name(big, small), nn.Parameter(torch.eye(small * small)))
        # For each kernel size: the chain of (source size, target size, matrix name) steps from k_max.
        self._chains: dict[int, tuple[tuple[int, int, str], ...]] = {}
        for k in self.kernel_sizes:
            steps = tuple((big, small, self.matrix_name(big, small)) for big, small in zip(desc[:-1], desc[1:]) if small >= k)
            self._chains[k] = steps

    @staticmethod
    def matrix_name(big: int, small: int) -> str:
        return f"transform_{big}to{small}"

    def active_weight(self, k: int, channels: int) -> torch.Tensor:
        """The (channels, 1, k, k) kernel: k_max raw, smaller ones centre-cropped and transformed step by step."""
        w = leading(self.conv.weight, channels)
        for src, dst, name in self._chains[k]:
            off = (src - dst) // 2
            w = w[:, :, off : off + dst, off : off + dst].reshape(channels, dst * dst)
            w = F.linear(w, getattr(self, name)).view(channels, 1, dst, dst)
        return w


class ElasticSE(nn.Module):
    """Squeeze-excite over the first C channels with hidden width make_divisible(C // 4, 8)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = se_channels(channels)
        self.reduce = nn.Conv2d(channels, hidden, 1, bias=True)
        self.expand = nn.Conv2d(hidden, channels, 1, bias=True)

    def run(self, x: torch.Tensor, c: int, h: int) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = torch.relu(conv1x1(s, leading(self.reduce.weight, h, c), leading(self.reduce.bias, h)))
        s = F.hardsigmoid(conv1x1(s, leading(self.expand.weight, c, h), leading(self.expand.bias, c)))
        return x * s


def _permute_(t: torch.Tensor, dim: int, idx: torch.Tensor) -> None:
    t.copy_(t.index_select(dim, idx))


def _permute_bn_(bn: nn.BatchNorm2d, idx: torch.Tensor) -> None:
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        _permute_(t, 0, idx)


def _copy_bn_(dst: nn.BatchNorm2d, src: nn.BatchNorm2d, c: int) -> None:
    dst.weight.copy_(src.weight[:c])
    dst.bias.copy_(src.bias[:c])
    dst.running_mean.copy_(src.running_mean[:c])
    dst.running_var.copy_(src.running_var[:c])
    dst.num_batches_tracked.copy_(src.num_batches_tracked)


class DynamicMBConv(nn.Module):
    """Elastic inverted residual block (kernel and expand ratio), with its identity shortcut if any."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        act: str,
        use_se: bool,
        kernel_sizes: Sequence[int],
        expand_ratios: Sequence[float],
        bn: BNParams = BNParams(),
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.stride, self.act_name = in_channels, out_channels, stride, act
        self.kernel_sizes = tuple(sorted(int(k) for k in kernel_sizes))
        self.expand_ratios = tuple(sorted(expand_ratios))
        self.residual = stride == 1 and in_channels == out_channels
        self.has_expand = max(self.expand_ratios) != 1
        self.mids = {e: (mid_channels(in_channels, e) if self.has_expand else in_channels) for e in self.expand_ratios}
        max_mid = max(self.mids.values())
        self.expand = _ConvBN(in_channels, max_mid, bn) if self.has_expand else None
        self.depthwise = ElasticDepthwise(max_mid, self.kernel_sizes, stride, bn)
        self.se = ElasticSE(max_mid) if use_se else None
        self.project = _ConvBN(max_mid, out_channels, bn)
        self._act = ACTIVATION_FNS[act]
        self.set_active(self.kernel_sizes[-1], self.expand_ratios[-1])

    def set_active(self, k: int, e: float) -> None:
        """Choose the kernel and expand ratio (values outside the block's lists leave it unusable until reset)."""
        self.active_k, self.active_e = int(k), e
        self._mid = self.mids.get(e)
        self._se_mid = None if self._mid is None else se_channels(self._mid)

    @property
    def active_mid(self) -> int:
        return self._mid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid, k = self._mid, self.active_k
        y = x
        if self.expand is not None:
            y = self._act(self.expand.bn(conv1x1(y, leading(self.expand.conv.weight, mid))))
        w = self.depthwise.active_weight(k, mid)
        y = self._act(self.depthwise.bn(depthwise_conv(y, w, self.stride)))
        if self.se is not None:
            y = self.se.run(y, mid, self._se_mid)
        y = self.project.bn(conv1x1(y, leading(self.project.conv.weight, self.project.conv.weight.shape[0], mid)))
        return y + x if self.residual else y

    # ----------------------------------------------------------------- extraction
    @torch.no_grad()
    def to_static(self) -> MBConv:
        mid, k = self._mid, self.active_k
        ref = self.project.conv.weight
        m = MBConv(
            self.in_channels, self.out_channels, mid, k, self.stride, self.act_name,
            se_channels=self._se_mid if self.se is not None else 0,
            expand=self.has_expand, residual=self.residual,
            bn=BNParams(self.project.bn.momentum, self.project.bn.eps),
        ).to(device=ref.device, dtype=ref.dtype)
        if self.expand is not None:
            m.expand.conv.weight.copy_(self.expand.conv.weight[:mid])
            _copy_bn_(m.expand.bn, self.expand.bn, mid)
        m.depthwise.conv.weight.copy_(self.depthwise.active_weight(k, mid))
        _copy_bn_(m.depthwise.bn, self.depthwise.bn, mid)
        if self.se is not None:
            h = self._se_mid
            m.se.reduce.weight.copy_(self.se.reduce.weight[:h, :mid])
            m.se.reduce.bias.copy_(self.se.reduce.bias[:h])
            m.se.expand.weight.copy_(self.se.expand.weight[:mid, :h])
            m.se.expand.bias.copy_(self.se.expand.bias[:mid])
        m.project.conv.weight.copy_(self.project.conv.weight[:, :mid])
        _copy_bn_(m.project.bn, self.project.bn, self.out_channels)
        return m

    # ----------------------------------------------------------------- channel sorting (spec §1.2)
    @torch.no_grad()
    def sort_channels(self, expand_stage: int = 0) -> None:
        """Reorder mid channels by importance (L1 norm of the projection weights), most important first.

        With `expand_stage` > 0, channels stay within the width segments of the expand ratios already
        trained (the largest `expand_stage` + 1 ratios): a channel outside the top-w(e) group cannot
        move into it. SE hidden units are sorted by the L1 norm of the SE-expand weights. The
        function of every subnet whose width is one of those segments is unchanged.
        """
        if not self.has_expand:
            return
        importance = self.project.conv.weight.abs().sum(dim=(0, 2, 3))
        if expand_stage > 0:
            widths = [self.mids[e] for e in sorted(self.expand_ratios, reverse=True)]
            right = importance.numel()
            base = -len(widths) * 1e5
            for i in range(expand_stage + 1):
                left = widths[i]
                importance[left:right] += base
                base += 1e5
                right = left
        idx = torch.sort(importance, dim=0, descending=True)[1]
        _permute_(self.project.conv.weight, 1, idx)
        _permute_bn_(self.depthwise.bn, idx)
        _permute_(self.depthwise.conv.weight, 0, idx)
        if self.se is not None:
            _permute_(self.se.expand.weight, 0, idx)
            _permute_(self.se.expand.bias, 0, idx)
            _permute_(self.se.reduce.weight, 1, idx)
            se_idx = torch.sort(self.se.expand.weight.abs().sum(dim=(0, 2, 3)), dim=0, descending=True)[1]
            _permute_(self.se.expand.weight, 1, se_idx)
            _permute_(self.se.reduce.weight, 0, se_idx)
            _permute_(self.se.reduce.bias, 0, se_idx)
        _permute_bn_(self.expand.bn, idx)
        _permute_(self.expand.conv.weight, 0, idx)


class DynamicParallelBlock(nn.Module):
    """OFAv2 parallel block: elastic MBConv (with its shortcut) + static 1x1 conv + static transformation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int,
        act: str,
        use_se: bool,
        kernel_sizes: Sequence[int],
        expand_ratios: Sequence[float],
        bn: BNParams = BNParams(),
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleDict(
            {
                "mbconv": DynamicMBConv(in_channels, out_channels, stride, act, use_se, kernel_sizes, expand_ratios, bn),
                "conv1x1": ConvBNAct(in_channels, out_channels, 1, stride, act=act, bn=bn),
                "transform": TransformBranch(in_channels, out_channels, stride, act, bn),
            }
        )
        self.set_active(max(kernel_sizes), max(expand_ratios), (1, 1, 1))

    @property
    def mbconv(self) -> DynamicMBConv:
        return self.branches["mbconv"]

    def set_active(self, k: int, e: float, bits: Sequence[int]) -> None:
        self.mbconv.set_active(k, e)
        self.active_bits = tuple(int(b) for b in bits)
        self._active_names = tuple(n for n, on in zip(PARALLEL_BRANCHES, self.active_bits) if on)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        for name in self._active_names:
            y = self.branches[name](x)
            out = y if out is None else out + y
        return out

    @torch.no_grad()
    def to_static(self) -> ParallelBlock:
        import copy

        parts: dict[str, nn.Module] = {}
        for name, on in zip(PARALLEL_BRANCHES, self.active_bits):
            if on:
                branch = self.branches[name]
                parts[name] = branch.to_static() if name == "mbconv" else copy.deepcopy(branch)
        return ParallelBlock(parts)

    def sort_channels(self, expand_stage: int = 0) -> None:
        self.mbconv.sort_channels(expand_stage)


class DynamicStage(nn.Module):
    """A body stage with elastic depth: runs its first `depth` blocks, plainly or with dense skips."""

    def __init__(self, blocks: Iterable[nn.Module], dense: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.dense = bool(dense)
        self.depth = len(self.blocks)

    def active_blocks(self) -> list[nn.Module]:
        return list(self.blocks)[: self.depth]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_blocks(self.active_blocks(), x, self.dense)

    def to_static(self) -> Stage:
        return Stage([b.to_static() for b in self.active_blocks()], self.dense)
