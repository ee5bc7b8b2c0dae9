"""Adaptive switching (NSGANetV2, spec §3.5 item 2): pick the pool member that ranks best out of fold.

Every model in the pool is cross-validated on the same k folds; each fold gives a Kendall tau on its
held-out samples. The winner maximises mean(tau) - std(tau), preferring a model that ranks well
*consistently*, and is refitted on all data. A fold whose tau is undefined (a constant prediction
or constant targets) counts as tau = 0: such a prediction carries no ranking information. A member
that cannot be fitted on a fold's training part (too few samples for it) is skipped, with its error
recorded in `cv_scores`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import numpy as np

from natv2.errors import ConfigError
from natv2.predictors.base import (
    InsufficientDataError,
    Surrogate,
    SurrogateBase,
    check_x,
    check_xy,
    child_seeds,
    kfold_splits,
    thread_limited,
)
from natv2.predictors.metrics import kendall_tau
from natv2.predictors.registry import create, register

nan = float("nan")
PoolEntry = Union[str, Sequence[Any], Mapping[str, Any]]


def _parse_entry(entry: PoolEntry) -> tuple[str, dict[str, Any]]:
    """'rbf' | ('rbf', {params}) | {'name': 'rbf', **params} -> (name, params)."""
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, Mapping):
        params = dict(entry)
        name = params.pop("name", None)
    elif isinstance(entry, Sequence) and len(entry) == 2 and isinstance(entry[1], Mapping):
        name, params = entry[0], dict(entry[1])
    else:
        name, params = None, {}
    if not isinstance(name, str):
        raise ConfigError(f"adaptive pool entry {entry!r} is not understood", "write 'rbf' or ['rbf', {params}]")
    if name == "adaptive":
        raise ConfigError("adaptive switching cannot contain itself", "list base surrogates in the pool")
    return name, params


def score_folds(taus: Sequence[float]) -> dict[str, Any]:
    """Per-fold Kendall taus -> {"kendall", "mean", "std", "score" = mean - std}; NaN folds count as 0."""
    clean = [float(t) if np.isfinite(t) else 0.0 for t in taus]
    mean, std = float(np.mean(clean)), float(np.std(clean))
    return {"kendall": clean, "mean": mean, "std": std, "score": mean - std}


def select_winner(cv_scores: Mapping[str, Mapping[str, Any]]) -> str:
    """Label with the highest mean(tau) - std(tau); the first listed wins a tie."""
    labels = list(cv_scores)
    return labels[int(np.argmax([cv_scores[label]["score"] for label in labels]))]


@register("adaptive")
@dataclass(eq=False)
class AdaptiveSwitching(SurrogateBase):
    """Cross-validate every pool member, keep the argmax of mean(tau) - std(tau), refit it on all data.

    After fit: `chosen` (label of the winner), `cv_scores` {label: {"kendall": [per fold], "mean",
    "std", "score"}} and `model_` (the refitted winner). Labels are the surrogate names, with
    "#index" appended when a name occurs more than once in the pool.
    """

    pool: Sequence[PoolEntry] = ("rbf", "gp", "carts")
    folds: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self._entries = [_parse_entry(e) for e in self.pool]
        if not self._entries:
            raise ConfigError("adaptive switching needs a non-empty pool", "list e.g. ['rbf', 'gp', 'carts']")
        for name, params in self._entries:
            create(name, seed=0, **params)  # fail on a bad name or parameter now, not mid-search
        names = [n for n, _ in self._entries]
        self.labels = [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]
        self.chosen: str | None = None
        self.cv_scores: dict[str, dict[str, Any]] = {}
        self.model_: Surrogate | None = None

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "AdaptiveSwitching":
        X, y = check_xy(X, y, "adaptive", min_samples=4)
        splits = kfold_splits(len(y), self.folds, self.seed, min_test=2)
        member_seeds = child_seeds(self.seed, len(self._entries))
        scores = {}
        for label, (name, params), mseed in zip(self.labels, self._entries, member_seeds):
            taus = []
            try:
                for train, test in splits:
                    pred = create(name, seed=mseed, **params).fit(X[train], y[train]).predict(X[test])
                    taus.append(kendall_tau(y[test], pred))
            except InsufficientDataError as err:  # this member needs more data than a fold holds
                scores[label] = {"kendall": [], "mean": nan, "std": nan, "score": -np.inf, "error": err.problem}
                continue
            scores[label] = score_folds(taus)
        if all(s["score"] == -np.inf for s in scores.values()):
            raise InsufficientDataError(
                f"adaptive: no pool member can be cross-validated on {len(y)} samples ({splits[0][0].size} per fold)",
                "evaluate more architectures first, or use fewer folds",
            )
        winner = self.labels.index(select_winner(scores))
        name, params = self._entries[winner]
        self.model_ = create(name, seed=member_seeds[winner], **params).fit(X, y)
        self.chosen = self.labels[winner]
        self.cv_scores = scores
        self.n_features_ = X.shape[1]
        return self

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "adaptive")
        assert self.model_ is not None
        return self.model_.predict(X)
