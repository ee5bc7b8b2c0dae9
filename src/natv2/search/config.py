"""`SearchConfig`: every search policy as a separate switch, plus the `nat` / `natv2` / `random` presets.

An ablation is one override: ``run_search(..., policy="natv2", repair="push")``. Defaults follow
spec §3.11 (NAT) and §4.8 (NATv2). The hypervolume normalisation is part of the config (objective ->
[ideal, nadir]) so that figures are comparable across runs; missing bounds are filled once, from the
space, and written into the run directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from natv2.errors import ConfigError

CHOICES: dict[str, tuple[str, ...]] = {
    "policy": ("nat", "natv2", "random"),
    "init": ("nat", "natv2", "uniform"),
    "archive_update": ("unbounded", "bounded"),
    "repair": ("push", "fill"),
    "features": ("integer", "onehot"),
    "distribution": ("categorical", "continuous"),
    "candidate_source": ("surrogate", "random"),
    "emo_sampling": ("lhs", "random"),
    "emo_crossover": ("two_point", "sbx"),
}


@dataclass(frozen=True)
class SearchConfig:
    """All knobs of the search loop. Build with `make_config(policy, **overrides)`."""

    policy: str = "natv2"
    iterations: int = 30
    # Fields left None are decided by the policy's preset (`PRESETS`); a value given here wins over it.
    archive_size: int | None = None  # n_doe: initial archive size (and the fixed size when archive_update="bounded")
    candidates_per_iter: int | None = None  # K
    top_n: int | None = None  # survivors the gene distributions are fitted on
    preprocess: bool | None = None  # NATv2 pre-processing on/off (a policy switch)
    preprocess_multiplier: int = 10  # its budget: evaluate multiplier*n, keep n-2 + bounds; 0 = off
    init: str | None = None
    archive_update: str | None = None
    repair: str | None = None
    features: str | None = None
    candidate_source: str | None = None  # "random": K uniformly sampled new subnets (random search)
    surrogate: str | None = None
    surrogate_params: Mapping[str, Any] = field(default_factory=dict)
    distribution: str = "categorical"
    distribution_smoothing: float = 0.0  # Laplace pseudo-count for the categorical distribution
    emo_pop: int = 100
    emo_gens: int = 20
    emo_sampling: str = "lhs"
    emo_crossover: str = "two_point"
    emo_crossover_prob: float = 0.9
    emo_mutation_eta: float = 1.0
    ref_dirs_seed: int = 42  # Riesz s-energy reference directions (NSGA-III)
    subset_pop: int = 500
    subset_gens: int = 200
    objectives: tuple[str, ...] = ("err", "params")
    hv_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # objective -> (ideal, nadir)
    hv_ref: float = 1.1  # reference point per objective in normalised space ((f - ideal) / (nadir - ideal))
    adaptation_epochs: int = 5
    eval_chunk: int = 32  # evaluations per `evaluate` call; each chunk is journaled (fsync) before moving on
    seed: int | None = None  # None: the caller's seed (`natv2 search` / `natv2 run`: run.seed)

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ConfigError(f"search option {name}={value!r} is not one of {list(allowed)}", f"set {name} to one of {list(allowed)}")
        positive = ("archive_size", "candidates_per_iter", "top_n", "emo_pop", "emo_gens", "subset_pop", "subset_gens", "eval_chunk")
        for name in positive:
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ConfigError(f"search option {name}={getattr(self, name)} must be >= 1", f"give {name} a positive integer")
        for name in ("iterations", "preprocess_multiplier", "adaptation_epochs"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"search option {name}={getattr(self, name)} must be >= 0", f"give {name} a non-negative integer")
        if self.archive_size is not None and self.archive_size < 3:
            raise ConfigError(f"archive_size={self.archive_size} is too small", "use archive_size >= 3 (it holds the two bound architectures)")
        if self.preprocess_multiplier == 1:
            raise ConfigError("preprocess_multiplier=1 samples no more than the archive holds", "use 0 (off) or >= 2")
        if not self.objectives or self.objectives[0] != "err":
            raise ConfigError(
                f"objectives {list(self.objectives)} must start with 'err' (the surrogate predicts the error)",
                "list 'err' first, e.g. ['err', 'params']",
            )
        if len(set(self.objectives)) != len(self.objectives):
            raise ConfigError(f"objectives {list(self.objectives)} repeat a name", "list each objective once")
        if self.hv_ref <= 1.0:
            raise ConfigError(f"hv_ref={self.hv_ref} must exceed 1 (the normalised nadir)", "use e.g. hv_ref=1.1")
        for name, bounds in self.hv_bounds.items():
            if len(bounds) != 2 or not float(bounds[1]) > float(bounds[0]):
                raise ConfigError(f"hv_bounds[{name!r}]={bounds} must be [ideal, nadir] with nadir > ideal", "fix hv_bounds")

    def replace(self, **changes: Any) -> "SearchConfig":
        return make_config_from(self, changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["objectives"] = list(self.objectives)
        out["surrogate_params"] = dict(self.surrogate_params)
        out["hv_bounds"] = {k: [float(v[0]), float(v[1])] for k, v in self.hv_bounds.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SearchConfig":
        return make_config_from(cls(), data)


# Presets: complete switch settings (spec §3.11 NAT, §4.8 NATv2). `random` is random search at NATv2's
# evaluation budget (same initial evaluations, same K per iteration); only the proposal step differs.
PRESETS: dict[str, dict[str, Any]] = {
    "nat": dict(
        archive_size=100, candidates_per_iter=8, top_n=150, preprocess=False, init="nat",
        archive_update="unbounded", repair="push", features="onehot", surrogate="lgbm", candidate_source="surrogate",
    ),
    "natv2": dict(
        archive_size=300, candidates_per_iter=25, top_n=150, preprocess=True, init="natv2",
        archive_update="bounded", repair="fill", features="integer", surrogate="lgbm", candidate_source="surrogate",
    ),
    "random": dict(
        archive_size=300, candidates_per_iter=25, top_n=150, preprocess=True, init="uniform",
        archive_update="unbounded", repair="fill", features="integer", surrogate="lgbm", candidate_source="random",
    ),
}

# The fields every preset sets: left None in a config section, the policy decides them.
POLICY_FIELDS: tuple[str, ...] = tuple(PRESETS["natv2"])
assert all(set(p) == set(POLICY_FIELDS) for p in PRESETS.values())
_TUPLE_FIELDS = {"objectives"}


def make_config_from(base: SearchConfig, changes: Mapping[str, Any]) -> SearchConfig:
    known = {f.name for f in dataclasses.fields(SearchConfig)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ConfigError(
            f"unknown search option(s) {unknown}",
            f"use only these options: {sorted(known)}",
        )
    values = dict(changes)
    for name in _TUPLE_FIELDS & set(values):
        values[name] = tuple(values[name])
    if "hv_bounds" in values:
        values["hv_bounds"] = {str(k): (float(v[0]), float(v[1])) for k, v in dict(values["hv_bounds"]).items()}
    return dataclasses.replace(base, **values)


def make_config(policy: str = "natv2", **overrides: Any) -> SearchConfig:
    """Preset `policy` with `overrides` applied on top; unknown keys raise `ConfigError` naming them.
    An override of None leaves the preset's value (None means "the policy decides")."""
    if policy not in PRESETS:
        raise ConfigError(f"unknown search policy '{policy}'", f"choose one of {sorted(PRESETS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    cfg = make_config_from(SearchConfig(policy=policy), {**PRESETS[policy], **given})
    return cfg if cfg.seed is not None else cfg.replace(seed=0)
