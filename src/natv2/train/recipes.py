"""Training recipes as data: the phase tables of OFA's progressive shrinking (spec §1.5) and
OFAv2's extended progressive shrinking (spec §2.5), turned into concrete phases for one supernet.

A recipe is a list of `PhaseTemplate`s. Each elastic template names one dimension and how many of
its values (counted from the largest) become active; `build_phases` walks the list, narrows the
supernet's own search space step by step, and drops phases the supernet lacks (no exits, no
parallel blocks) or that would not change the space (e.g. a user-restricted dimension).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from natv2.errors import ConfigError
from natv2.train.config import PhaseOverride
from natv2.space import NW_BITS, SearchSpace

# The dimensions a phase can open, in the order the spaces store them.
ELASTIC_DIMS = ("ks", "nw", "nd", "d", "e")


@dataclass(frozen=True)
class PhaseTemplate:
    """One row of a recipe table.

    dim: the dimension this phase opens (None: the full-network phase, nothing elastic).
    keep: how many of the dimension's levels are active, counted from the largest; None = all.
        For `nw` a level is a branch count (1, 2 or 3 active branches), as in OFAv2.
    epochs, warmup_epochs: cosine epochs and the linear warm-up epochs before them.
    base_lr: learning rate at the reference batch size (64, one GPU).
    subnets_per_step: subnets sampled, forwarded and back-propagated per optimiser step.
    sort_channels: channel-sorting stage run at the start of the phase (expand phases), else None.
    dropout: classifier dropout during the phase; None uses the config's default.
    """

    name: str
    dim: str | None
    keep: int | None
    epochs: int
    base_lr: float
    warmup_epochs: int
    subnets_per_step: int
    sort_channels: int | None = None
    dropout: float | None = None


@dataclass(frozen=True)
class Phase:
    """A concrete phase for one supernet: the narrowed space it samples from and its schedule."""

    name: str
    index: int
    kind: str  # "full" or "elastic"
    space: SearchSpace
    epochs: int
    base_lr: float
    warmup_epochs: int
    subnets_per_step: int
    sort_channels: int | None
    dropout: float
    dim: str | None = None
    steps_per_epoch: int | None = None  # a per-phase cap (train.phase_overrides); None: train.steps_per_epoch

    @property
    def total_epochs(self) -> int:
        return self.warmup_epochs + self.epochs

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "space": self.space.to_dict(),
            "epochs": self.epochs,
            "warmup_epochs": self.warmup_epochs,
            "base_lr": self.base_lr,
            "subnets_per_step": self.subnets_per_step,
            "sort_channels": self.sort_channels,
            "dropout": self.dropout,
            **({"steps_per_epoch": self.steps_per_epoch} if self.steps_per_epoch is not None else {}),
        }


def _eps_rows(full_dropout: float | None) -> list[PhaseTemplate]:
    T = PhaseTemplate
    return [
        T("full", None, None, 180, 0.08, 0, 1, dropout=full_dropout),
        T("kernel", "ks", None, 120, 0.03, 5, 1),
        T("level_1", "nw", 2, 25, 2.5e-3, 0, 2),
        T("level_2", "nw", None, 120, 7.5e-3, 5, 2),
        T("exit_1", "nd", 2, 25, 1.875e-3, 0, 2),
        T("exit_2", "nd", 3, 60, 3.75e-3, 5, 2),
        T("exit_3", "nd", 4, 90, 7.5e-3, 5, 2),
        T("exit_4", "nd", None, 120, 1.5e-2, 5, 2),
        T("depth_1", "d", 2, 25, 2.5e-3, 0, 2),
        T("depth_2", "d", None, 120, 7.5e-3, 5, 2),
        T("expand_1", "e", 2, 25, 2.5e-3, 0, 4, sort_channels=0),
        T("expand_2", "e", None, 120, 7.5e-3, 5, 4, sort_channels=1),
    ]


# A template whose `dim` is ALL_DIMS opens every elastic dimension at once.
ALL_DIMS = "all"


def _warmup_rows() -> list[PhaseTemplate]:
    """The warm-up of a transferred supernet on its target (NATv2, after NAT's warm-up, spec §3.3): the full
    network with its new heads (every exit at once), then one phase over the whole elastic space,
    distilled from the warmed-up full network. Paper epochs; presets scale them to the target."""
    T = PhaseTemplate
    return [
        T("full", None, None, 100, 7.5e-3, 5, 1),
        T("elastic", ALL_DIMS, None, 150, 7.5e-3, 10, 4),
    ]


# Registry of recipes. OFA's PS (§1.5) is EPS without the level/exit rows and with OFA's dropout
# in the full phase; per-GPU learning rates are the same numbers in both papers. `warmup` and `none`
# start from a transfer source (train.source): NATv2's warm-up, or NAT's (none: adaptation alone).
RECIPES: dict[str, list[PhaseTemplate]] = {
    "eps": _eps_rows(full_dropout=0.2),
    "ps": [row for row in _eps_rows(full_dropout=None) if row.dim not in ("nw", "nd")],
    "warmup": _warmup_rows(),
    "none": [],
}


def _levels(space: SearchSpace, dim: str) -> list[tuple[Any, ...]]:
    """The dimension's levels, smallest first; each level is the tuple of values it adds."""
    if dim == "nw":
        assert space.nw is not None
        counts = sorted({sum(NW_BITS[k]) for k in space.nw})
        return [tuple(k for k in space.nw if sum(NW_BITS[k]) == c) for c in counts]
    return [(v,) for v in getattr(space, dim)]


def _active_values(space: SearchSpace, dim: str, keep: int | None) -> tuple[Any, ...]:
    levels = _levels(space, dim)
    chosen = levels if keep is None else levels[-max(1, keep) :]
    return tuple(sorted(v for level in chosen for v in level))


def _has_dim(space: SearchSpace, dim: str) -> bool:
    return getattr(space, dim) is not None


def initial_space(space: SearchSpace) -> SearchSpace:
    """Every elastic dimension at its maximum (the state before any phase opens it)."""
    values: dict[str, tuple[Any, ...]] = {}
    for dim in ELASTIC_DIMS:
        if _has_dim(space, dim):
            values[dim] = _active_values(space, dim, 1)
    return space.restrict(**values)


def _scaled(epochs: int, scale: float, minimum: int) -> int:
    return max(minimum, int(round(epochs * scale)))


def _recipe_rows(recipe: str | Sequence[PhaseTemplate]) -> list[PhaseTemplate]:
    rows = RECIPES.get(recipe) if isinstance(recipe, str) else list(recipe)
    if rows is None:
        raise ConfigError(f"unknown training recipe '{recipe}'", f"choose one of {sorted(RECIPES)}")
    return rows


def check_phase_names(recipe: str | Sequence[PhaseTemplate], overrides: Iterable[str] = (),
                      only: Iterable[str] = ()) -> None:
    """Refuse phase names that `train.phase_overrides` (`overrides`) and `train.only_phases` (`only`) cannot mean.

    The one owner of this check: config resolution (natv2.pipeline.validate) and `build_phases` both call it.
    An override may name a phase of any recipe (a preset's exit_* override stays valid when its supernet is
    swapped for ofa_mbv3, whose recipe has no exits); a name no recipe has is a typo. `only` must name phases
    of `recipe` itself.

    Args:
        recipe: a recipe name of `RECIPES`, or a recipe's rows.
        overrides: the phase names `train.phase_overrides` sets.
        only: the phase names `train.only_phases` keeps.

    Raises:
        ConfigError: naming the key, the unknown names and the recipe's phase names.
    """
    rows = _recipe_rows(recipe)
    names = [r.name for r in rows]
    label = recipe if isinstance(recipe, str) else "given"
    any_recipe = {r.name for table in RECIPES.values() for r in table} | set(names)
    checks = (("phase_overrides", list(overrides), any_recipe), ("only_phases", list(only), set(names)))
    for key, given, allowed in checks:
        bad = [n for n in given if n not in allowed]
        if bad:
            raise ConfigError(f"config key 'train.{key}' names phase(s) {bad} that recipe '{label}' does not have",
                              f"use phase names of recipe '{label}': {', '.join(names)}")


def _applicable_overrides(rows: Sequence[PhaseTemplate], recipe: Any, overrides: Mapping[str, Any] | None,
                          only: Sequence[str] | None) -> dict[str, PhaseOverride]:
    """The overrides for this recipe's phases (names checked by `check_phase_names`); one for a phase only
    another recipe has does not apply here."""
    check_phase_names(recipe, dict(overrides or {}), only or ())
    names = {r.name for r in rows}
    kept = {k: v for k, v in dict(overrides or {}).items() if k in names}
    return {k: PhaseOverride(**v) if isinstance(v, Mapping) else v for k, v in kept.items()}


def _opened(row: PhaseTemplate, space: SearchSpace, current: SearchSpace) -> tuple[str, SearchSpace] | None:
    """(kind, space) of the phase `row` after `current`, or None when it opens nothing in this supernet."""
    if row.dim is None:
        return "full", current
    if row.dim == ALL_DIMS:
        nxt = current.restrict(**{d: _active_values(space, d, None) for d in ELASTIC_DIMS if _has_dim(space, d)})
        return None if nxt == current else ("elastic", nxt)  # a space of one subnet opens nothing
    if not _has_dim(space, row.dim):
        return None
    values = _active_values(space, row.dim, row.keep)
    if values == getattr(current, row.dim):
        return None  # the dimension has a single value in this supernet
    if row.keep is not None and values == _active_values(space, row.dim, None):
        return None  # a sub-phase that already opens everything: the final row of this dimension does it
    return "elastic", current.restrict(**{row.dim: values})


def _phase(row: PhaseTemplate, index: int, kind: str, space: SearchSpace, epochs_scale: float,
           ov: PhaseOverride | None, default_dropout: float) -> Phase:
    """The row's schedule scaled by `epochs_scale`, then the override's exact values."""
    ov = ov or PhaseOverride()
    epochs = _scaled(row.epochs, epochs_scale, 1)
    warmup = _scaled(row.warmup_epochs, epochs_scale, 0) if row.warmup_epochs else 0
    phase = Phase(
        name=row.name, index=index, kind=kind, space=space,
        epochs=epochs if ov.epochs is None else int(ov.epochs),
        base_lr=row.base_lr if ov.base_lr is None else float(ov.base_lr),
        warmup_epochs=warmup if ov.warmup_epochs is None else int(ov.warmup_epochs),
        subnets_per_step=row.subnets_per_step if ov.subnets_per_step is None else int(ov.subnets_per_step),
        sort_channels=row.sort_channels,
        dropout=default_dropout if row.dropout is None else row.dropout,
        dim=row.dim,
        steps_per_epoch=ov.steps_per_epoch,
    )
    if phase.epochs < 0 or phase.warmup_epochs < 0 or phase.subnets_per_step < 1:
        raise ConfigError(f"phase '{row.name}' has a negative epoch count or < 1 subnet per step", "fix the override")
    return phase


def build_phases(
    space: SearchSpace,
    recipe: str | Sequence[PhaseTemplate],
    *,
    epochs_scale: float = 1.0,
    overrides: Mapping[str, PhaseOverride | Mapping[str, Any]] | None = None,
    default_dropout: float = 0.1,
    only: Sequence[str] | None = None,
) -> list[Phase]:
    """Concrete phases of `recipe` for a supernet whose full space is `space`.

    Epochs (and warm-up epochs) are multiplied by `epochs_scale` and rounded (at least 1 epoch,
    warm-up may become 0); `overrides` then set exact values per phase name. `only` keeps just the
    named phases (their spaces still include everything the skipped earlier phases opened).
    """
    rows = _recipe_rows(recipe)
    if epochs_scale <= 0:
        raise ConfigError(f"train.epochs_scale is {epochs_scale}; it must be > 0", "use e.g. 0.05 for a short run")
    overrides = _applicable_overrides(rows, recipe, overrides, only)
    current = initial_space(space)
    phases: list[Phase] = []
    for row in rows:
        opened = _opened(row, space, current)
        if opened is None:
            continue
        kind, current = opened
        phases.append(_phase(row, len(phases), kind, current, epochs_scale, overrides.get(row.name), default_dropout))
    if only:
        phases = [p for p in phases if p.name in set(only)]
    phases = [p for p in phases if p.total_epochs > 0]  # an override of 0 epochs drops the phase
    return [replace(p, index=i) for i, p in enumerate(phases)]
