"""Registry of supernet variants and `create`: name -> (structure, default search space)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from natv2.errors import ConfigError
from natv2.nn.layers import BNParams
from natv2.registry import Registry
from natv2.space import N_STAGES, SearchSpace, nw_keys_for_branch_counts
from natv2.supernets.arch import MacroArch
from natv2.supernets.supernet import ARCH_FORMAT, Supernet

OFA_RESOLUTIONS = tuple(range(128, 225, 4))  # OFA ImageNet: 128..224 step 4
OFAV2_RESOLUTIONS = (48, 52, 56, 60, 64)  # OFAv2 Tiny ImageNet: 48..64 step 4


@dataclass(frozen=True)
class SupernetVariant:
    """Structure switches of one registered supernet and its default resolutions."""

    early_exit: bool = False
    dense: bool = False
    parallel: bool = False
    resolutions: tuple[int, ...] = OFAV2_RESOLUTIONS
    description: str = ""
    # Other MacroArch fields of this family (stage_channels, strides, acts, use_se, stem, ...): the one
    # architecture description that extraction, params/MACs and latency tables all derive from.
    macro: Mapping[str, Any] = field(default_factory=dict)

    def macro_arch(self, n_classes: int, width_mult: float = 1.0, **fields: Any) -> MacroArch:
        return MacroArch(n_classes=int(n_classes), width_mult=float(width_mult), early_exit=self.early_exit,
                         dense=self.dense, parallel=self.parallel, **{**dict(self.macro), **fields})

    def default_space(self, width_mult: float) -> SearchSpace:
        return SearchSpace(
            r=self.resolutions,
            w=(float(width_mult),),
            nd=tuple(range(1, N_STAGES + 1)) if self.early_exit else None,
            nw=nw_keys_for_branch_counts([1, 2, 3]) if self.parallel else None,
        )


_REGISTRY: Registry[SupernetVariant] = Registry("supernet", fix="choose one of {names}")


def register_supernet(name: str) -> Callable[[Callable[[], SupernetVariant]], Callable[[], SupernetVariant]]:
    """Decorator: register the variant returned by the decorated factory under `name`."""

    def deco(factory: Callable[[], SupernetVariant]) -> Callable[[], SupernetVariant]:
        _REGISTRY.check_free(name)  # before the factory runs
        _REGISTRY.add(name, factory())
        return factory

    return deco


def list_supernets() -> list[str]:
    """Names of the registered supernet families, sorted."""
    return _REGISTRY.names()


def get_variant(name: str) -> SupernetVariant:
    """The registered supernet family `name` (a ConfigError lists the known ones)."""
    return _REGISTRY.get(name)


@register_supernet("ofa_mbv3")
def _ofa_mbv3() -> SupernetVariant:
    return SupernetVariant(resolutions=OFA_RESOLUTIONS, description="OFA MobileNetV3 (spec §1.1-1.2)")


def _ofav2(early_exit: bool, dense: bool, parallel: bool, label: str) -> Callable[[], SupernetVariant]:
    def factory() -> SupernetVariant:
        return SupernetVariant(early_exit, dense, parallel, OFAV2_RESOLUTIONS, f"OFAv2 {label}_OFAMobileNetV3 (spec §2)")

    return factory


for _exit_kind, _ee in (("se", False), ("ee", True)):
    for _kind, _dense, _par in (("b", False, False), ("d", True, False), ("p", False, True), ("dp", True, True)):
        register_supernet(f"ofav2_{_exit_kind}_{_kind}")(_ofav2(_ee, _dense, _par, f"{_exit_kind}_{_kind}".upper()))


def _as_values(v: Any) -> tuple:
    return (v,) if isinstance(v, (int, float)) and not isinstance(v, bool) else tuple(v)


def resolve_space(variant: SupernetVariant, width_mult: float, space: SearchSpace | None, overrides: Mapping[str, Any]) -> SearchSpace:
    """The supernet's space: `space` (or the variant default) with overrides, checked against the structure."""
    base = space if space is not None else variant.default_space(width_mult)
    unknown = set(overrides) - {"ks", "e", "d", "r", "w", "nd", "nw"}
    if unknown:
        raise ConfigError(f"unknown search-space field(s) {sorted(unknown)}", "use ks, e, d, r, w, nd or nw")
    dims = {k: _as_values(v) for k, v in overrides.items() if v is not None}
    if dims:
        base = base.restrict(**dims)
    if float(width_mult) not in base.w:
        raise ConfigError(
            f"width_mult {width_mult} is not among the space's widths {list(base.w)}",
            "a supernet has one width: pass matching width_mult and w",
        )
    base = base.restrict(w=(float(width_mult),))
    if variant.early_exit and base.nd is None:
        base = base.restrict(nd=tuple(range(1, N_STAGES + 1)))
    if not variant.early_exit and base.nd is not None:
        raise ConfigError("a single-exit supernet has no early exits, but the space sets 'nd'", "drop 'nd' or pick an ofav2_ee_* supernet")
    if variant.parallel and base.nw is None:
        base = base.restrict(nw=nw_keys_for_branch_counts([1, 2, 3]))
    if not variant.parallel and base.nw is not None:
        raise ConfigError("this supernet has no parallel blocks, but the space sets 'nw'", "drop 'nw' or pick an ofav2_*_p / _dp supernet")
    return base


def create(
    name: str,
    n_classes: int,
    width_mult: float = 1.0,
    space: SearchSpace | None = None,
    *,
    dropout: float = 0.1,
    bn: BNParams | None = None,
    **space_overrides: Any,
) -> Supernet:
    """Build a registered supernet with random (OFA he_fout) weights.

    `space` fixes the allowed values (default: the variant's); keyword overrides such as r=[32]
    or nd=[3, 4, 5] narrow or replace single dimensions. The largest kernel size and expand ratio
    of the space fix the weight shapes, its largest depth the number of blocks per stage.
    """
    variant = get_variant(name)
    if int(n_classes) < 1:
        raise ConfigError(f"n_classes must be positive, got {n_classes}", "pass the number of classes of the dataset")
    sp = resolve_space(variant, width_mult, space, space_overrides)
    arch = variant.macro_arch(n_classes, width_mult, ks=sp.ks, e=sp.e, max_depth=max(sp.d), dropout=dropout,
                              bn=bn or BNParams())
    return Supernet(name, arch, sp)


def create_from_arch(data: Mapping[str, Any]) -> Supernet:
    """Rebuild a supernet (random weights) from `Supernet.arch_dict()`."""
    if data.get("format") != ARCH_FORMAT:
        raise ConfigError(f"not a natv2 supernet description (format={data.get('format')!r})", "pass Supernet.arch_dict() output")
    get_variant(data["name"])
    return Supernet(data["name"], MacroArch.from_dict(data["arch"]), SearchSpace.from_dict(data["space"]))
