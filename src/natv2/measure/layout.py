"""The layer plan of a subnet: which layers an extracted network holds, with their shapes.

Everything here is a pure function of small integers and strings, so the cost model and the latency
table can both walk the same plan and cache per-layer results. No torch modules are built.

The macro-structure (spec §1.1, §2.1-2.4) is the supernet's own `MacroArch` (natv2.supernets.arch),
reached through the family registry: a family registered with `register_supernet` is costed exactly
with no code here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator, Mapping, NamedTuple

from natv2.errors import ConfigError, InvalidSubnetError
from natv2.nn.ops import make_divisible, mid_channels, se_channels
from natv2.space import N_STAGES, NW_BITS, SLOTS_PER_STAGE, SubnetConfig

if TYPE_CHECKING:
    from natv2.supernets.arch import MacroArch

__all__ = ["ArchFamily", "FAMILIES", "Layer", "conv_out", "get_family", "layer_plan", "make_divisible", "mid_channels",
           "se_channels", "widths"]


def conv_out(h: int, stride: int) -> int:
    """Spatial size after a 'same'-padded conv / ceil-mode pool of this stride: ceil(h / s)."""
    return -(-h // stride)


# ----------------------------------------------------------------------------------- families
@dataclass(frozen=True)
class ArchFamily:
    """A supernet family as the cost model walks it: its name and its own `MacroArch` (the one
    architecture description; widths, strides, activations and SE all come from it)."""

    name: str
    arch: "MacroArch"

    @property
    def exits(self) -> bool:
        return self.arch.early_exit

    @property
    def dense(self) -> bool:
        return self.arch.dense

    @property
    def parallel(self) -> bool:
        return self.arch.parallel

    def at(self, width_mult: float) -> "MacroArch":
        return _at_width(self.arch, float(width_mult))


@lru_cache(maxsize=None)
def _at_width(arch: "MacroArch", width_mult: float) -> "MacroArch":
    return replace(arch, width_mult=width_mult)


class _Families(Mapping[str, ArchFamily]):
    """Every registered supernet family (a live view of natv2.supernets' registry)."""

    def __getitem__(self, name: str) -> ArchFamily:
        from natv2.supernets.registry import get_variant, list_supernets

        if name not in list_supernets():
            raise KeyError(name)
        return ArchFamily(name, get_variant(name).macro_arch(n_classes=1))

    def __iter__(self) -> Iterator[str]:
        from natv2.supernets.registry import list_supernets

        return iter(list_supernets())

    def __len__(self) -> int:
        from natv2.supernets.registry import list_supernets

        return len(list_supernets())


FAMILIES: Mapping[str, ArchFamily] = _Families()
"""Architecture family name -> `ArchFamily` (the layer layout the cost model and latency table read)."""


def get_family(arch: "str | MacroArch | ArchFamily") -> ArchFamily:
    """The family of a registered supernet name, or of a supernet's own `MacroArch`."""
    if isinstance(arch, ArchFamily):
        return arch
    if not isinstance(arch, str):
        return ArchFamily(f"custom({'ee' if arch.early_exit else 'se'})", replace(arch, n_classes=1))
    try:
        return FAMILIES[arch]
    except KeyError:
        raise ConfigError(
            f"unknown supernet family '{arch}' for cost measures", f"use one of {sorted(FAMILIES)}"
        ) from None


# ----------------------------------------------------------------------------------- widths
class Widths(NamedTuple):
    """All channel counts of one width multiplier."""

    first_conv: int
    first_block: int
    stages: tuple[int, ...]
    heads: tuple[tuple[int, int], ...]  # (final expand, feature mix) of the exit after stage 1..5


@lru_cache(maxsize=None)
def _widths(arch: "MacroArch") -> Widths:
    return Widths(arch.stem_width, arch.first_block_width, arch.stage_widths,
                  tuple(arch.exit_widths(s) for s in range(1, N_STAGES + 1)))


def widths(width_mult: float, family: "str | ArchFamily" = "ofa_mbv3") -> Widths:
    """Channel counts of `family` at `width_mult`, read from its MacroArch (exit heads after stage i are
    make_divisible(6 * B_i * w) and make_divisible(8 * B_i * w), B_i the stage's *base* width)."""
    return _widths(get_family(family).at(width_mult))


# ----------------------------------------------------------------------------------- layers
class Layer(NamedTuple):
    """One costed unit of an extracted network; hashable, so per-layer results cache well.

    kind: key into the cost / latency-builder registries:
      first_conv   3x3 conv (s2) + BN + act                   (cin=3, cout, h=input res)
      mbconv       MBConv block (expand if e>1, dw k, SE, project), identity residual if `residual`
      conv1x1      parallel branch 2: 1x1 conv (stride) + BN + act
      transform    parallel branch 3: maxpool(s) if s>1, 1x1 conv (bias) if cin!=cout, BN + act
      add          `n` elementwise additions of cout x h x h maps (dense skips, branch sums)
      exit_head    1x1 conv+BN+act to c1, global pool, 1x1 conv (no BN/bias)+act to c2, Linear to n
    """

    kind: str
    cin: int
    cout: int
    h: int  # input spatial size
    k: int = 1
    stride: int = 1
    e: int = 0
    se: bool = False
    act: str = "relu"
    residual: bool = False
    extra: tuple[int, ...] = ()

    def key(self) -> str:
        """Stable, readable string key (used in latency tables)."""
        base = f"{self.kind}-in:{self.h}x{self.h}x{self.cin}-out:{conv_out(self.h, self.stride)}x{self.cout}"
        if self.kind == "mbconv":
            base += f"-k:{self.k}-e:{self.e}-s:{self.stride}-se:{int(self.se)}-act:{self.act}-res:{int(self.residual)}"
        elif self.kind in ("conv1x1", "transform", "first_conv"):
            base += f"-k:{self.k}-s:{self.stride}-act:{self.act}"
        if self.extra:
            base += "-x:" + "/".join(str(v) for v in self.extra)
        return base


def dense_add_count(depth: int) -> int:
    """Extra additions of a dense stage (spec §2.3): block j>=3 adds o_1..o_{j-2} -> sum_{j=3..d} (j-2)."""
    return sum(j - 2 for j in range(3, depth + 1))


@lru_cache(maxsize=4096)
def _stage_plan(
    family: ArchFamily, width_mult: float, stage: int, h_in: int, ks: tuple[int, ...], es: tuple[int, ...], nws: tuple[int, ...] | None
) -> tuple[Layer, ...]:
    """Layers of one body stage (depth = len(ks)); cached since stages repeat across configs."""
    arch = family.at(width_mult)
    wd = _widths(arch)
    cin = wd.first_block if stage == 0 else wd.stages[stage - 1]
    cout = wd.stages[stage]
    act, se = arch.acts[stage], arch.use_se[stage]
    layers: list[Layer] = []
    h = h_in
    for j, (k, e) in enumerate(zip(ks, es)):
        s = arch.strides[stage] if j == 0 else 1
        c_in = cin if j == 0 else cout
        bits = NW_BITS[nws[j]] if nws is not None else (1, 0, 0)
        if bits[0]:
            layers.append(Layer("mbconv", c_in, cout, h, k, s, e, se, act, residual=j > 0))
        if bits[1]:
            layers.append(Layer("conv1x1", c_in, cout, h, 1, s, 0, False, act))
        if bits[2]:
            layers.append(Layer("transform", c_in, cout, h, 1, s, 0, False, act))
        h = conv_out(h, s)
        if sum(bits) > 1:
            layers.append(Layer("add", cout, cout, h, extra=(sum(bits) - 1,)))
    if family.dense and dense_add_count(len(ks)):
        layers.append(Layer("add", cout, cout, h, extra=(dense_add_count(len(ks)),)))
    return tuple(layers)


def spatial_sizes(r: int, strides: tuple[int, ...] = (2, 2, 2, 1, 2)) -> tuple[int, ...]:
    """Input spatial size of stage 1..5 and, last, the output size of stage 5 (`strides`: the MacroArch's)."""
    h = conv_out(r, 2)  # first conv; the first block has stride 1
    out = [h]
    for s in strides:
        h = conv_out(h, s)
        out.append(h)
    return tuple(out)


def check_config(family: ArchFamily, cfg: SubnetConfig) -> None:
    """Refuse configs whose exit/mask fields do not fit the family (instead of costing a wrong net)."""
    if cfg.nd is not None and not family.exits and cfg.nd != N_STAGES:
        raise InvalidSubnetError(
            f"subnet sets exit nd={cfg.nd} but '{family.name}' has a single exit", "drop 'nd' or use an ofav2_ee_* family"
        )
    if cfg.nw is not None and not family.parallel:
        raise InvalidSubnetError(
            f"subnet sets parallel masks 'nw' but '{family.name}' has no parallel blocks",
            "drop 'nw' or use an ofav2_*_p / *_dp family",
        )
    if cfg.nw is not None:
        for i in cfg.active_layer_indices():
            if cfg.nw[i] not in NW_BITS:
                raise InvalidSubnetError(f"subnet field 'nw' of layer {i} is {cfg.nw[i]}; keys are 1..7", "fix 'nw'")


def layer_plan(family: "ArchFamily | str | MacroArch", cfg: SubnetConfig, n_classes: int) -> list[Layer]:
    """Every costed layer of the network `cfg` extracts to, in forward order.

    nd (early-exit families) stops after stage nd and uses exit head nd; nw (parallel families; None
    means every branch, key 7) selects the branches of each layer; dense families add the §2.3 sums.
    """
    family = get_family(family)
    check_config(family, cfg)
    w = cfg.w
    arch = family.at(w)
    wd = _widths(arch)
    sizes = spatial_sizes(cfg.r, arch.strides)
    plan = [
        Layer("first_conv", 3, wd.first_conv, cfg.r, 3, 2, act="h_swish"),
        Layer("mbconv", wd.first_conv, wd.first_block, sizes[0], 3, 1, 1, False, "relu", residual=wd.first_conv == wd.first_block),
    ]
    n_run = cfg.nd if (family.exits and cfg.nd is not None) else N_STAGES
    nw = cfg.nw if family.parallel else None
    if family.parallel and nw is None:
        nw = (7,) * (N_STAGES * SLOTS_PER_STAGE)
    for s in range(n_run):
        lo = s * SLOTS_PER_STAGE
        hi = lo + cfg.d[s]
        plan.extend(
            _stage_plan(family, w, s, sizes[s], cfg.ks[lo:hi], cfg.e[lo:hi], None if nw is None else nw[lo:hi])
        )
    c_last = wd.stages[n_run - 1]
    c1, c2 = wd.heads[n_run - 1]
    plan.append(Layer("exit_head", c_last, c2, sizes[n_run], act="h_swish", extra=(c1, c2, n_classes)))
    return plan
