"""`SearchConfig`: every search policy as a separate switch, plus the `nat` / `natv2` / `random` presets.

An ablation is one field: ``run_search(space, evaluate, SearchConfig(policy="natv2", repair="push"))``. Defaults follow
spec §3.11 (NAT) and §4.8 (NATv2). The hypervolume normalisation is part of the config (objective ->
[ideal, nadir]) so that figures are comparable across runs; missing bounds are filled once, from the
space, and written into the run directory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from natv2.config.fields import key_help
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

    policy: str = field(default="natv2", metadata=key_help(
        "nat, natv2 or random (random search at NATv2's budget): the preset that fills the fields left null"))
    iterations: int = field(default=30, metadata=key_help("search iterations after the initial archive"))
    # Fields left None are decided by the policy's preset (`PRESETS`); a value given here wins over it.
    archive_size: int | None = field(default=None, metadata=key_help(
        "initial archive size n_doe (the fixed size under archive_update=bounded); null: the policy's"))
    candidates_per_iter: int | None = field(default=None, metadata=key_help(
        "K, new subnets evaluated per iteration; null: the policy's"))
    top_n: int | None = field(default=None, metadata=key_help(
        "survivors the gene distributions are fitted on; null: the policy's"))
    preprocess: bool | None = field(default=None, metadata=key_help(
        "NATv2's pre-processing of the initial archive on/off (a policy switch); null: the policy's"))
    preprocess_multiplier: int = field(default=10, metadata=key_help(
        "pre-processing budget: evaluate multiplier x n, keep n-2 plus the two bounds; 0 = off"))
    init: str | None = field(default=None, metadata=key_help(
        "initial archive: nat, natv2 or uniform sampling; null: the policy's"))
    archive_update: str | None = field(default=None, metadata=key_help(
        "unbounded (NAT: the archive grows) or bounded (NATv2: fixed size); null: the policy's"))
    repair: str | None = field(default=None, metadata=key_help(
        "how invalid offspring are repaired: push or fill; null: the policy's"))
    features: str | None = field(default=None, metadata=key_help(
        "surrogate input encoding: integer or onehot; null: the policy's"))
    candidate_source: str | None = field(default=None, metadata=key_help(
        "surrogate (NSGA on the surrogate) or random (K uniformly sampled subnets: random search); null: the policy's"))
    surrogate: str | None = field(default=None, metadata=key_help(
        "accuracy predictor: lgbm, rbf, rbf_ensemble, gp, carts, mlp, adaptive; null: the policy's"))
    surrogate_params: Mapping[str, Any] = field(default_factory=dict, metadata=key_help(
        "keyword arguments of the surrogate (e.g. {members: 100})"))
    distribution: str = field(default="categorical", metadata=key_help(
        "gene distributions fitted on the top_n survivors: categorical or continuous"))
    distribution_smoothing: float = field(default=0.0, metadata=key_help(
        "Laplace pseudo-count of the categorical distribution"))
    emo_pop: int = field(default=100, metadata=key_help("NSGA population on the surrogate"))
    emo_gens: int = field(default=20, metadata=key_help("NSGA generations on the surrogate"))
    emo_sampling: str = field(default="lhs", metadata=key_help("NSGA initial sampling: lhs or random"))
    emo_crossover: str = field(default="two_point", metadata=key_help("NSGA crossover: two_point or sbx"))
    emo_crossover_prob: float = field(default=0.9, metadata=key_help("NSGA crossover probability"))
    emo_mutation_eta: float = field(default=1.0, metadata=key_help("polynomial mutation's distribution index"))
    ref_dirs_seed: int = field(default=42, metadata=key_help(
        "seed of NSGA-III's Riesz s-energy reference directions (3+ objectives)"))
    subset_pop: int = field(default=500, metadata=key_help("subset-selection GA population"))
    subset_gens: int = field(default=200, metadata=key_help("subset-selection GA generations"))
    objectives: tuple[str, ...] = field(default=("err", "params"), metadata=key_help(
        "objectives, err first: err plus any of params, macs, latency, lut_latency"))
    hv_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict, metadata=key_help(
        "objective -> [ideal, nadir] normalising the hypervolume; missing ones are filled once from the space "
        "and written into the run directory"))
    hv_ref: float = field(default=1.1, metadata=key_help(
        "hypervolume reference point per objective in normalised space ((f - ideal) / (nadir - ideal))"))
    eval_chunk: int = field(default=32, metadata=key_help(
        "evaluations per evaluate call; each chunk is journaled (fsync) before moving on"))
    seed: int | None = field(default=None, metadata=key_help(
        "the search's seed; null: the caller's (natv2 search / natv2 run: run.seed)"))

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ConfigError(f"search option {name}={value!r} is not one of {list(allowed)}", f"set {name} to one of {list(allowed)}")
        positive = ("archive_size", "candidates_per_iter", "top_n", "emo_pop", "emo_gens", "subset_pop", "subset_gens", "eval_chunk")
        for name in positive:
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ConfigError(f"search option {name}={getattr(self, name)} must be >= 1", f"give {name} a positive integer")
        for name in ("iterations", "preprocess_multiplier"):
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
"""Complete switch settings per search policy (NAT, NATv2, and random search at NATv2's evaluation
budget: same initial evaluations, same K per iteration; only the proposal step differs)."""

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
