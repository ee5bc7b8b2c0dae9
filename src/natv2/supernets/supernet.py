"""`Supernet`: an elastic MobileNetV3 (OFA, or an OFAv2 variant with early exits / dense skips / parallel blocks)."""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from natv2.errors import ConfigError, InvalidSubnetError
from natv2.nn.layers import ConvBNAct, ExitHead, MBConv
from natv2.nn.network import StaticNet
from natv2.space import NW_BITS, N_STAGES, SLOTS_PER_STAGE, SearchSpace, SubnetConfig
from natv2.supernets.arch import MacroArch, head_specs, subnet_spec
from natv2.supernets.dynamic import DynamicMBConv, DynamicParallelBlock, DynamicStage

ARCH_FORMAT = "natv2-supernet"


def init_he_fout(module: nn.Module) -> None:
    """OFA's default init: conv N(0, sqrt(2 / (k*k*out))), BN (1, 0), linear U(+-1/sqrt(in)) with zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.weight.shape[1])
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Supernet(nn.Module):
    """Elastic MobileNetV3 supernet.

    Holds the weights of the largest subnet; `set_active_subnet` picks one subnet (validated against
    `space` first), `forward` runs it (any input resolution), `extract_subnet` copies its weights into
    a plain `StaticNet`. Early-exit variants run body stages 1..nd then exit nd, or several exits in
    one pass with `forward(x, exits=[...])`.
    """

    def __init__(self, name: str, arch: MacroArch, space: SearchSpace, channels_last: bool = True) -> None:
        super().__init__()
        self.name = name
        # Run on channels_last activations (inputs are converted on entry): on CPU the pointwise convs
        # become plain GEMMs and depthwise convs use the faster NHWC kernels. Results are the same.
        self.channels_last = bool(channels_last)
        self.arch = arch
        # the space names its family and class count, so the cost objectives count this supernet's layers
        self.space = replace(space, arch=name, n_classes=arch.n_classes)
        self.n_classes = arch.n_classes
        self.width_mult = arch.width_mult
        bn = arch.bn
        fc, fb = head_specs(arch)
        self.first_conv = ConvBNAct.from_config(fc, bn)
        self.first_block = MBConv.from_config(fb, bn)
        block_cls = DynamicParallelBlock if arch.parallel else DynamicMBConv
        stages = []
        for s in range(N_STAGES):
            blocks = []
            for j in range(arch.max_depth):
                cin, cout, stride = arch.block_io(s, j)
                blocks.append(block_cls(cin, cout, stride, arch.acts[s], arch.use_se[s], arch.ks, arch.e, bn))
            stages.append(DynamicStage(blocks, arch.dense))
        self.stages = nn.ModuleList(stages)
        self.exits = nn.ModuleDict(
            {str(k): ExitHead(arch.stage_widths[k - 1], *arch.exit_widths(k), arch.n_classes, arch.dropout, bn) for k in arch.exit_stages}
        )
        init_he_fout(self)
        self._active: SubnetConfig | None = None
        self.set_max_net()

    # ----------------------------------------------------------------- subnet selection
    @property
    def active_subnet(self) -> SubnetConfig:
        return self._active

    @property
    def elastic_blocks(self) -> list[DynamicMBConv]:
        """Every elastic MBConv (the MBConv branch of parallel blocks included), stage by stage."""
        out = []
        for stage in self.stages:
            for b in stage.blocks:
                out.append(b.mbconv if isinstance(b, DynamicParallelBlock) else b)
        return out

    def set_active_subnet(self, cfg: SubnetConfig | Mapping[str, Any]) -> SubnetConfig:
        """Activate a subnet (a SubnetConfig or an OFA-style dict with ks, e, d [, r, w, nd, nw]).

        Raises InvalidSubnetError naming the field, value and allowed values before touching any weight.
        """
        cfg = self.space.coerce(cfg)
        self._apply_config(cfg)
        self._active = cfg
        return cfg

    def _apply_config(self, cfg: SubnetConfig) -> None:
        for s, stage in enumerate(self.stages):
            stage.depth = min(cfg.d[s], len(stage.blocks))
            for j, block in enumerate(stage.blocks):
                i = s * SLOTS_PER_STAGE + j
                if self.arch.parallel:
                    block.set_active(cfg.ks[i], cfg.e[i], NW_BITS.get(cfg.nw[i], (0, 0, 0)))
                else:
                    block.set_active(cfg.ks[i], cfg.e[i])

    def sample_active_subnet(self, rng: np.random.Generator, space: SearchSpace | None = None) -> SubnetConfig:
        """Sample uniformly from `space` (a training phase's narrower lists; default: the supernet's) and activate it."""
        return self.set_active_subnet((space or self.space).sample(rng))

    def set_max_net(self) -> SubnetConfig:
        return self.set_active_subnet(self.space.max_config())

    def set_min_net(self) -> SubnetConfig:
        return self.set_active_subnet(self.space.min_config())

    @property
    def n_active_stages(self) -> int:
        return self._active.nd if (self.arch.early_exit and self._active.nd) else N_STAGES

    def _check_exits(self, exits: Sequence[int]) -> list[int]:
        try:
            wanted = [int(k) for k in exits]
        except (TypeError, ValueError):
            raise InvalidSubnetError(f"exits must be a list of stage numbers, got {exits!r}", "pass e.g. exits=[1, 2, 3, 4, 5]") from None
        allowed = self.arch.exit_stages
        if not wanted or len(set(wanted)) != len(wanted) or not set(wanted) <= set(allowed):
            raise InvalidSubnetError(
                f"exits {wanted} are not distinct exits of supernet '{self.name}', which has exits {list(allowed)}",
                f"choose exits from {list(allowed)}",
            )
        deepest = max(wanted)
        if deepest > self.n_active_stages:
            # Stages past the active exit run too: their layers must be valid as well.
            self.space.validate(replace(self._active, nd=deepest))
        return wanted

    # ----------------------------------------------------------------- forward
    def forward(self, x: torch.Tensor, exits: Sequence[int] | None = None) -> torch.Tensor | list[torch.Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.first_block(self.first_conv(x))
        if exits is None:
            n = self.n_active_stages
            for stage in list(self.stages)[:n]:
                x = stage(x)
            return self.exits[str(n)](x)
        wanted = self._check_exits(exits)
        logits: dict[int, torch.Tensor] = {}
        for s, stage in enumerate(list(self.stages)[: max(wanted)], start=1):
            x = stage(x)
            if s in wanted:
                logits[s] = self.exits[str(s)](x)
        return [logits[k] for k in wanted]

    # ----------------------------------------------------------------- extraction
    def subnet_spec(self, cfg: SubnetConfig | Mapping[str, Any] | None = None, exits: Sequence[int] | None = None) -> dict[str, Any]:
        """Config of the static network a subnet extracts to (pure Python; default: the active subnet)."""
        cfg = self._active if cfg is None else self.space.coerce(cfg)
        if exits is not None:
            allowed = self.arch.exit_stages
            if not set(int(k) for k in exits) <= set(allowed):
                raise InvalidSubnetError(f"exits {list(exits)} not in {list(allowed)}", f"choose exits from {list(allowed)}")
        return subnet_spec(self.arch, cfg, exits)

    @torch.no_grad()
    def extract_subnet(self, exits: Sequence[int] | None = None) -> StaticNet:
        """A plain network holding copies of the active subnet's weights (same outputs as the supernet).

        With `exits`, the network runs stages 1..max(exits) and returns the list of those exits' logits
        (the all-exits teacher of OFAv2 with exits=[1, 2, 3, 4, 5]).
        """
        wanted = self._check_exits(exits) if exits is not None else None
        n = max(wanted) if wanted else self.n_active_stages
        stages = [stage.to_static() for stage in list(self.stages)[:n]]
        heads = {k: copy.deepcopy(self.exits[str(k)]) for k in (wanted or [n])}
        net = StaticNet(copy.deepcopy(self.first_conv), copy.deepcopy(self.first_block), stages, heads, wanted, self.arch.bn)
        net.channels_last = self.channels_last
        net.train(self.training)
        return net

    # ----------------------------------------------------------------- width sorting
    def sort_channels(self, expand_stage: int = 0) -> None:
        """OFA channel-importance sorting of every elastic block (spec §1.2), at the start of an expand phase.

        `expand_stage` = k keeps channels inside the segments of the k+1 largest expand ratios.
        """
        n_e = len(self.arch.e)
        if not 0 <= int(expand_stage) < n_e:
            raise ConfigError(f"expand_stage {expand_stage} is out of range for {n_e} expand ratios", f"use 0..{n_e - 1}")
        for block in self.elastic_blocks:
            block.sort_channels(int(expand_stage))

    # ----------------------------------------------------------------- transfer
    def with_classes(self, n_classes: int) -> "Supernet":
        """Give every exit a new classifier for `n_classes` classes (transfer to another dataset).

        The body, each exit's expand and feature layers are kept; only the final linear layers are
        replaced, freshly initialised as at construction (seed torch first for the same weights).
        Returns self."""
        n_classes = int(n_classes)
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        for head in self.exits.values():
            old = head.classifier
            fresh = nn.Linear(old.in_features, n_classes).to(device=old.weight.device, dtype=old.weight.dtype)
            init_he_fout(fresh)
            head.classifier = fresh
        self.arch = replace(self.arch, n_classes=n_classes)
        self.space = replace(self.space, n_classes=n_classes)
        self.n_classes = n_classes
        return self

    # ----------------------------------------------------------------- description
    def arch_dict(self) -> dict[str, Any]:
        """JSON-able description from which `natv2.supernets.create_from_arch` rebuilds this supernet."""
        return {"format": ARCH_FORMAT, "version": 1, "name": self.name, "arch": self.arch.to_dict(), "space": self.space.to_dict()}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, n_classes={self.n_classes}, width_mult={self.width_mult}"
