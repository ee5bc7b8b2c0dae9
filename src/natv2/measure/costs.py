"""Closed-form parameter and MAC counts per layer kind, and `CostModel` over whole subnet configs.

Convention (the same as `count_macs` / `count_params`, see docs/measures.md):
* MACs: multiply-accumulates of every convolution and linear layer at batch 1,
  conv = Cout*Hout*Wout*(Cin/groups)*k*k, linear = in*out. The squeeze-and-excitation 1x1 convs are
  counted (they run on 1x1 maps). BN, activations, pooling, additions, the SE multiply and biases
  are not counted.
* Params: every parameter of the extracted network, sum(p.numel()): conv and linear weights and
  biases, BN affine weights (not running statistics, which are buffers), SE biases.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Callable, NamedTuple

from natv2.measure.layout import (
    ArchFamily,
    Layer,
    conv_out,
    get_family,
    layer_plan,
    mid_channels,
    se_channels,
)
from natv2.space import SubnetConfig

if TYPE_CHECKING:
    from natv2.supernets.arch import MacroArch


class Cost(NamedTuple):
    """Parameters and multiply-accumulates of a layer or network; costs add."""
    params: int
    macs: int

    def __add__(self, other: "Cost") -> "Cost":  # type: ignore[override]
        return Cost(self.params + other.params, self.macs + other.macs)


def _conv(cin: int, cout: int, k: int, h_out: int, groups: int = 1, bias: bool = False, bn: bool = True) -> Cost:
    weights = cout * (cin // groups) * k * k
    params = weights + (cout if bias else 0) + (2 * cout if bn else 0)
    return Cost(params, weights * h_out * h_out)


def _first_conv(L: Layer) -> Cost:
    return _conv(L.cin, L.cout, L.k, conv_out(L.h, L.stride))


def _mbconv(L: Layer) -> Cost:
    mid = mid_channels(L.cin, L.e)
    h_out = conv_out(L.h, L.stride)
    total = Cost(0, 0)
    if L.e != 1:
        total += _conv(L.cin, mid, 1, L.h)
    total += _conv(mid, mid, L.k, h_out, groups=mid)
    if L.se:
        red = se_channels(mid)
        total += _conv(mid, red, 1, 1, bias=True, bn=False) + _conv(red, mid, 1, 1, bias=True, bn=False)
    return total + _conv(mid, L.cout, 1, h_out)


def _conv1x1(L: Layer) -> Cost:
    return _conv(L.cin, L.cout, 1, conv_out(L.h, L.stride))


def _transform(L: Layer) -> Cost:
    h_out = conv_out(L.h, L.stride)
    bn = Cost(2 * L.cout, 0)
    if L.cin != L.cout:
        return bn + _conv(L.cin, L.cout, 1, h_out, bias=True, bn=False)
    return bn


def _add(L: Layer) -> Cost:
    return Cost(0, 0)


def _exit_head(L: Layer) -> Cost:
    c1, c2, n_classes = L.extra
    expand = _conv(L.cin, c1, 1, L.h)
    mix = _conv(c1, c2, 1, 1, bn=False)
    linear = Cost(c2 * n_classes + n_classes, c2 * n_classes)
    return expand + mix + linear


LAYER_COSTS: dict[str, Callable[[Layer], Cost]] = {
    "first_conv": _first_conv,
    "mbconv": _mbconv,
    "conv1x1": _conv1x1,
    "transform": _transform,
    "add": _add,
    "exit_head": _exit_head,
}
"""Closed-form cost (params, MACs) per layer kind; a new layer kind registers here, not in an if/elif chain."""


@lru_cache(maxsize=1 << 16)
def layer_cost(layer: Layer) -> Cost:
    """Params and MACs of one layer, cached, since a search meets the same few hundred layers again and again."""
    return LAYER_COSTS[layer.kind](layer)


class CostModel:
    """Params / MACs of subnets of one supernet family, from the config alone (no torch).

    `params(cfg)` and `macs(cfg)` equal `count_params` / `count_macs` of the extracted network exactly.
    Width comes from cfg.w, resolution from cfg.r, the exit from cfg.nd (early-exit families) and
    the branch masks from cfg.nw (parallel families; None = all three branches).
    """

    def __init__(self, arch: "str | MacroArch" = "ofa_mbv3", n_classes: int = 1000) -> None:
        """`arch`: a registered family name, or a supernet's own MacroArch (`supernet.arch`)."""
        self.family: ArchFamily = get_family(arch)
        self.arch = arch if isinstance(arch, str) else self.family.name
        self.n_classes = int(n_classes)
        self._cost = lru_cache(maxsize=1 << 15)(self._cost_uncached)

    def __repr__(self) -> str:
        return f"CostModel(arch={self.arch!r}, n_classes={self.n_classes})"

    def _cost_uncached(self, cfg: SubnetConfig) -> Cost:
        p = m = 0
        for layer in layer_plan(self.family, cfg, self.n_classes):
            c = layer_cost(layer)
            p += c.params
            m += c.macs
        return Cost(p, m)

    def cost(self, cfg: SubnetConfig) -> Cost:
        """(params, macs) of `cfg`; cached per canonical config."""
        return self._cost(cfg)

    def params(self, cfg: SubnetConfig) -> int:
        """Parameter count of the extracted network (sum of p.numel())."""
        return self._cost(cfg).params

    def macs(self, cfg: SubnetConfig) -> int:
        """Multiply-accumulates at batch 1 (conv + linear, SE convs included)."""
        return self._cost(cfg).macs

    def breakdown(self, cfg: SubnetConfig) -> list[tuple[str, Cost]]:
        """Per-layer (key, cost) list, for reports and debugging."""
        return [(L.key(), layer_cost(L)) for L in layer_plan(self.family, cfg, self.n_classes)]


@lru_cache(maxsize=64)
def cost_model(arch: "str | MacroArch" = "ofa_mbv3", n_classes: int = 1000) -> CostModel:
    """The closed-form cost model of a supernet family (see `CostModel`); shared per (arch, n_classes)."""
    return CostModel(arch, n_classes)
