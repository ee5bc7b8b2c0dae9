"""`SearchSpace`: the allowed values of every elastic dimension, as configuration (never constants).

It validates configs with messages that name the field, the value and what is allowed, and samples,
bounds and enumerates subnets. It knows nothing of torch modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import numpy as np

from natv2.errors import InvalidSubnetError
from natv2.space.subnet import N_LAYERS, N_STAGES, SLOTS_PER_STAGE, SubnetConfig

NW_BITS = {key: ((key >> 2) & 1, (key >> 1) & 1, key & 1) for key in range(1, 8)}
"""Parallel-block mask key (1-7) -> the on/off bits of its three branches, in the order (MBConv, 1x1 conv,
transformation), as OFAv2 numbers them."""


def nw_keys_for_branch_counts(counts: Sequence[int]) -> tuple[int, ...]:
    """Mask keys whose number of active branches is in `counts` (e.g. [2, 3] -> 3, 5, 6, 7)."""
    wanted = set(int(c) for c in counts)
    return tuple(k for k, bits in NW_BITS.items() if sum(bits) in wanted)


@dataclass(frozen=True)
class SearchSpace:
    """Allowed values per dimension. `nd` / `nw` are None for supernets without exits / parallel blocks."""

    ks: tuple[int, ...] = (3, 5, 7)
    e: tuple[int, ...] = (3, 4, 6)
    d: tuple[int, ...] = (2, 3, 4)
    r: tuple[int, ...] = (224,)
    w: tuple[float, ...] = (1.0,)
    nd: tuple[int, ...] | None = None
    nw: tuple[int, ...] | None = None
    # What the cost objectives count (params, MACs, latency tables): the supernet family whose layers
    # these dimensions choose (the defaults are OFA's MobileNetV3 with ImageNet's 1000-class head).
    arch: str = field(default="ofa_mbv3", compare=False)
    n_classes: int = field(default=1000, compare=False)
    extras: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("ks", "e", "d", "r"):
            set_(self, name, tuple(sorted(int(v) for v in getattr(self, name))))
        set_(self, "w", tuple(sorted(float(v) for v in self.w)))
        if self.nd is not None:
            set_(self, "nd", tuple(sorted(int(v) for v in self.nd)))
        if self.nw is not None:
            set_(self, "nw", tuple(sorted(int(v) for v in self.nw)))
        for name in ("ks", "e", "d", "r", "w"):
            if not getattr(self, name):
                raise InvalidSubnetError(f"search space lists no values for '{name}'", f"give at least one {name}")
        if not set(self.d) <= set(range(1, SLOTS_PER_STAGE + 1)):
            raise InvalidSubnetError(f"search space depths {self.d} must lie in 1..{SLOTS_PER_STAGE}", "fix 'd'")
        if self.nd is not None and not set(self.nd) <= set(range(1, N_STAGES + 1)):
            raise InvalidSubnetError(f"search space exits {self.nd} must lie in 1..{N_STAGES}", "fix 'nd'")
        if self.nw is not None and not set(self.nw) <= set(NW_BITS):
            raise InvalidSubnetError(f"search space mask keys {self.nw} must lie in 1..7", "fix 'nw'")

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchSpace":
        """Build from a plain dict such as {"ks": [3,5,7], "e": [3,4,6], "d": [2,3,4], "r": [32], "w": [1.0]}.

        `arch` and `n_classes` (what the cost objectives count) are read too; other keys are kept in `extras`.
        """
        dims = {k: data[k] for k in ("ks", "e", "d", "r", "w", "nd", "nw") if data.get(k) is not None}
        for k, v in list(dims.items()):
            if isinstance(v, (int, float)):
                dims[k] = (v,)
        cost = {k: (str if k == "arch" else int)(data[k]) for k in ("arch", "n_classes") if data.get(k) is not None}
        extras = {k: v for k, v in data.items() if k not in dims and k not in ("nd", "nw", "arch", "n_classes")}
        return cls(**dims, **cost, extras=extras)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": list(self.r), "w": list(self.w)}
        if self.nd is not None:
            out["nd"] = list(self.nd)
        if self.nw is not None:
            out["nw"] = list(self.nw)
        return out

    def restrict(self, **values: Sequence[Any]) -> "SearchSpace":
        """A copy with some dimensions narrowed (progressive shrinking phases use this)."""
        return replace(self, **{k: tuple(v) for k, v in values.items()})

    @property
    def has_exits(self) -> bool:
        return self.nd is not None

    @property
    def is_parallel(self) -> bool:
        return self.nw is not None

    # ----------------------------------------------------------------- validation
    def validate(self, cfg: SubnetConfig) -> SubnetConfig:
        """Return `cfg` if it lies in the space; otherwise raise naming the field, value and allowed values."""

        def bad(name: str, where: str, value: Any, allowed: Sequence[Any]) -> InvalidSubnetError:
            return InvalidSubnetError(
                f"subnet field '{name}'{where} is {value!r}; this supernet allows {list(allowed)}",
                f"choose '{name}' from {list(allowed)}",
            )

        if cfg.r not in self.r:
            raise bad("r", "", cfg.r, self.r)
        if cfg.w not in self.w:
            raise bad("w", "", cfg.w, self.w)
        if self.nd is None and cfg.nd is not None:
            raise InvalidSubnetError(
                f"subnet sets exit nd={cfg.nd} but this supernet has a single exit", "drop 'nd' from the config"
            )
        if self.nd is not None:
            nd = cfg.nd if cfg.nd is not None else max(self.nd)
            if nd not in self.nd:
                raise bad("nd", "", nd, self.nd)
        if self.nw is None and cfg.nw is not None:
            raise InvalidSubnetError(
                "subnet sets parallel masks 'nw' but this supernet has no parallel blocks", "drop 'nw' from the config"
            )
        n_run = cfg.n_active_stages
        for s in range(n_run):
            if cfg.d[s] not in self.d:
                raise bad("d", f" of stage {s + 1}", cfg.d[s], self.d)
        for s, j, i in cfg.active_layers():
            where = f" of layer {i} (stage {s + 1}, block {j + 1})"
            if cfg.ks[i] not in self.ks:
                raise bad("ks", where, cfg.ks[i], self.ks)
            if cfg.e[i] not in self.e:
                raise bad("e", where, cfg.e[i], self.e)
            if self.nw is not None and cfg.nw is not None and cfg.nw[i] not in self.nw:
                raise bad("nw", where, cfg.nw[i], self.nw)
        return cfg

    def coerce(self, cfg: SubnetConfig | Mapping[str, Any]) -> SubnetConfig:
        """Accept a SubnetConfig or a plain dict; fill defaults (r, w, nd, nw) the space implies; validate."""
        if not isinstance(cfg, SubnetConfig):
            data = dict(cfg)
            if "r" not in data or data["r"] is None:
                data["r"] = max(self.r)
            if "w" not in data:
                data["w"] = self.w[-1] if len(self.w) == 1 else data.get("w", 1.0)
            cfg = SubnetConfig.from_dict(data)
        if self.nd is not None and cfg.nd is None:
            cfg = replace(cfg, nd=max(self.nd))
        if self.nw is not None and cfg.nw is None:
            cfg = replace(cfg, nw=(max(self.nw),) * N_LAYERS)
        return self.validate(cfg)

    # ----------------------------------------------------------------- sampling and bounds
    def sample(self, rng: np.random.Generator) -> SubnetConfig:
        """Uniform over every dimension independently (OFA's `sample_active_subnet`)."""
        pick = lambda vals, n=None: (  # noqa: E731
            vals[int(rng.integers(len(vals)))] if n is None else tuple(vals[int(i)] for i in rng.integers(len(vals), size=n))
        )
        return SubnetConfig(
            ks=pick(self.ks, N_LAYERS),
            e=pick(self.e, N_LAYERS),
            d=pick(self.d, N_STAGES),
            r=pick(self.r),
            w=pick(self.w),
            nd=None if self.nd is None else pick(self.nd),
            nw=None if self.nw is None else pick(self.nw, N_LAYERS),
        )

    def _bound(self, take) -> SubnetConfig:
        return SubnetConfig(
            ks=(take(self.ks),) * N_LAYERS,
            e=(take(self.e),) * N_LAYERS,
            d=(take(self.d),) * N_STAGES,
            r=take(self.r),
            w=take(self.w),
            nd=None if self.nd is None else take(self.nd),
            nw=None if self.nw is None else (take(sorted(self.nw, key=lambda k: (sum(NW_BITS[k]), k))),) * N_LAYERS,
        )

    def max_config(self) -> SubnetConfig:
        return self._bound(lambda v: v[-1])

    def min_config(self) -> SubnetConfig:
        return self._bound(lambda v: v[0])

    def resolution_max(self) -> int:
        return max(self.r)


def ofa_mbv3_space(resolutions: Sequence[int] = (224,), widths: Sequence[float] = (1.0,)) -> SearchSpace:
    """OFA MobileNetV3's space: k {3,5,7}, e {3,4,6}, d {2,3,4}."""
    return SearchSpace(r=tuple(resolutions), w=tuple(widths))
