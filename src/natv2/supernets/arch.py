"""`MacroArch`: the fixed macro-structure of an (OFA / OFAv2) elastic MobileNetV3, and `subnet_spec`.

`subnet_spec(arch, cfg)` turns a subnet config into the JSON config of the static network it
extracts to, in pure Python (no torch modules built). Cost models can read channel counts from it;
`Supernet.extract_subnet()` produces a network whose `.config` equals it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from natv2.nn.layers import PARALLEL_BRANCHES, BNParams
from natv2.nn.network import STATIC_FORMAT, STATIC_VERSION
from natv2.nn.ops import make_divisible, mid_channels, se_channels
from natv2.space import NW_BITS, N_STAGES, SLOTS_PER_STAGE, SubnetConfig


@dataclass(frozen=True)
class MacroArch:
    """Everything that fixes the supernet's weight shapes. Widths are base values before `width_mult`.

    Defaults are OFA MobileNetV3 (spec §1.1) / OFAv2 (§2.1): stem 16, first block 16 (e=1, k=3),
    stages 24/40/80/112/160 with strides 2,2,2,1,2, exits of 6x and 8x the stage width.
    """

    n_classes: int
    width_mult: float = 1.0
    early_exit: bool = False
    dense: bool = False
    parallel: bool = False
    ks: tuple[int, ...] = (3, 5, 7)
    e: tuple[float, ...] = (3, 4, 6)
    max_depth: int = SLOTS_PER_STAGE
    dropout: float = 0.1
    bn: BNParams = field(default_factory=BNParams)
    stem: int = 16
    first_block: int = 16
    stage_channels: tuple[int, ...] = (24, 40, 80, 112, 160)
    strides: tuple[int, ...] = (2, 2, 2, 1, 2)
    acts: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
    use_se: tuple[bool, ...] = (False, True, False, True, True)
    exit_expand: int = 6
    exit_feature: int = 8

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "ks", tuple(sorted(int(k) for k in self.ks)))
        set_(self, "e", tuple(sorted(self.e)))
        set_(self, "width_mult", float(self.width_mult))
        for name in ("stage_channels", "strides", "acts", "use_se"):
            set_(self, name, tuple(getattr(self, name)))
            if len(getattr(self, name)) != N_STAGES:
                raise ValueError(f"MacroArch.{name} needs {N_STAGES} entries")
        if any(k % 2 == 0 or k < 1 for k in self.ks):
            raise ValueError(f"kernel sizes must be odd and positive, got {self.ks}")
        if not 1 <= self.max_depth <= SLOTS_PER_STAGE:
            raise ValueError(f"max_depth must lie in 1..{SLOTS_PER_STAGE}")
        if isinstance(self.bn, Mapping):
            set_(self, "bn", BNParams.from_dict(self.bn))

    # ----------------------------------------------------------------- widths
    def width(self, base: float) -> int:
        return make_divisible(base * self.width_mult)

    @property
    def stem_width(self) -> int:
        return self.width(self.stem)

    @property
    def first_block_width(self) -> int:
        return self.width(self.first_block)

    @property
    def stage_widths(self) -> tuple[int, ...]:
        return tuple(self.width(c) for c in self.stage_channels)

    def exit_widths(self, stage: int) -> tuple[int, int]:
        """(final-expand, feature-mix) widths of the exit after `stage` (1-based)."""
        base = self.stage_channels[stage - 1]
        return self.width(base * self.exit_expand), self.width(base * self.exit_feature)

    @property
    def exit_stages(self) -> tuple[int, ...]:
        return tuple(range(1, N_STAGES + 1)) if self.early_exit else (N_STAGES,)

    def block_io(self, stage: int, slot: int) -> tuple[int, int, int]:
        """(in_channels, out_channels, stride) of block `slot` of `stage` (both 0-based)."""
        out = self.stage_widths[stage]
        if slot > 0:
            return out, out, 1
        prev = self.first_block_width if stage == 0 else self.stage_widths[stage - 1]
        return prev, out, self.strides[stage]

    def has_expand(self) -> bool:
        return max(self.e) != 1

    # ----------------------------------------------------------------- (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bn"] = self.bn.to_dict()
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MacroArch":
        d = dict(data)
        d["bn"] = BNParams.from_dict(d.get("bn"))
        return cls(**d)


# ----------------------------------------------------------------------------- static specs
def _conv_spec(cin: int, cout: int, k: int, stride: int, act: str, bn: bool = True, bias: bool = False, groups: int = 1) -> dict:
    return {"type": "conv", "in": cin, "out": cout, "k": k, "stride": stride, "groups": groups, "bias": bias, "bn": bn, "act": act}


def mbconv_spec(arch: MacroArch, stage: int, slot: int, k: int, e: float) -> dict[str, Any]:
    """Static config of the MBConv block at (stage, slot) with kernel k and expand ratio e."""
    cin, cout, stride = arch.block_io(stage, slot)
    mid = mid_channels(cin, e) if arch.has_expand() else cin
    return {
        "type": "mbconv",
        "in": cin,
        "out": cout,
        "mid": mid,
        "k": int(k),
        "stride": stride,
        "act": arch.acts[stage],
        "se": se_channels(mid) if arch.use_se[stage] else 0,
        "expand": arch.has_expand(),
        "residual": stride == 1 and cin == cout,
    }


def block_spec(arch: MacroArch, stage: int, slot: int, k: int, e: float, nw: int | None) -> dict[str, Any]:
    """Static config of one body block: a plain MBConv, or a parallel block with the branches of mask `nw`."""
    mb = mbconv_spec(arch, stage, slot, k, e)
    if not arch.parallel:
        return mb
    cin, cout, stride = arch.block_io(stage, slot)
    act = arch.acts[stage]
    candidates = {
        "mbconv": mb,
        "conv1x1": _conv_spec(cin, cout, 1, stride, act),
        "transform": {"type": "transform", "in": cin, "out": cout, "stride": stride, "act": act},
    }
    bits = NW_BITS[int(nw)]
    return {"type": "parallel", "branches": {n: candidates[n] for n, on in zip(PARALLEL_BRANCHES, bits) if on}}


def head_specs(arch: MacroArch) -> tuple[dict[str, Any], dict[str, Any]]:
    """(first conv, first block) configs: 3x3 s2 conv + h_swish, then MBConv e=1 k=3 relu."""
    stem, fb = arch.stem_width, arch.first_block_width
    first_conv = _conv_spec(3, stem, 3, 2, "h_swish")
    first_block = {
        "type": "mbconv", "in": stem, "out": fb, "mid": stem, "k": 3, "stride": 1, "act": "relu",
        "se": 0, "expand": False, "residual": stem == fb,
    }
    return first_conv, first_block


def exit_spec(arch: MacroArch, stage: int) -> dict[str, Any]:
    expand, feature = arch.exit_widths(stage)
    return {
        "type": "exit", "in": arch.stage_widths[stage - 1], "expand": expand, "feature": feature,
        "n_classes": arch.n_classes, "dropout": float(arch.dropout),
    }


def subnet_spec(arch: MacroArch, cfg: SubnetConfig, exits: Sequence[int] | None = None) -> dict[str, Any]:
    """Config of the static network `cfg` extracts to (with `exits`: the multi-exit network).

    `cfg` must already be valid for the supernet (see `SearchSpace.validate`).
    """
    n_run = max(exits) if exits else (cfg.nd if (arch.early_exit and cfg.nd) else N_STAGES)
    stages = []
    for s in range(n_run):
        blocks = []
        for j in range(cfg.d[s]):
            i = s * SLOTS_PER_STAGE + j
            blocks.append(block_spec(arch, s, j, cfg.ks[i], cfg.e[i], None if cfg.nw is None else cfg.nw[i]))
        stages.append({"dense": arch.dense, "blocks": blocks})
    heads = list(exits) if exits else [n_run]
    first_conv, first_block = head_specs(arch)
    return {
        "format": STATIC_FORMAT,
        "version": STATIC_VERSION,
        "bn": arch.bn.to_dict(),
        "first_conv": first_conv,
        "first_block": first_block,
        "stages": stages,
        "exits": {str(k): exit_spec(arch, k) for k in sorted(heads)},
        "outputs": [int(k) for k in exits] if exits else None,
    }
