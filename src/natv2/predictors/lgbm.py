"""LightGBM k-fold ensemble: NATv2's default surrogate (spec §3.5 item 3).

k boosted models, each trained on k-1 folds of the archive, predictions averaged. The ensemble
smooths the piecewise-constant boosted trees and costs k fits; with `folds=1` it is one model on all
data. Targets are standardised first, so the Huber transition point `alpha` is in standard
deviations of the target (LightGBM's default 0.9), whatever the scale of the error.

`min_child_samples=None` (the default) uses LightGBM's 20 when a member trains on 200 rows or more and
a tenth of its rows (at least 2) below that: with LightGBM's fixed 20, the small archives of a short
search (a few dozen subnets) allow no split at all and every prediction is the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from natv2.predictors.base import SurrogateBase, TargetScaler, check_x, check_xy, child_seeds, kfold_splits, thread_limited
from natv2.predictors.registry import register


@register("lgbm")
@dataclass(eq=False)
class LGBMEnsemble(SurrogateBase):
    """k-fold ensemble of `LGBMRegressor(objective='huber')`; `lgbm_params` go to each member."""

    folds: int = 10
    objective: str = "huber"
    n_estimators: int = 100
    learning_rate: float = 0.1
    num_leaves: int = 31
    min_child_samples: int | None = None
    n_jobs: int = 1
    lgbm_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.models_: list[Any] = []
        self._scaler: TargetScaler | None = None

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "LGBMEnsemble":
        from lightgbm import LGBMRegressor  # imported here so `import natv2.predictors` stays light

        # LightGBM needs 2 rows per model: k-fold members need 3 samples in all, a single model 2
        X, y = check_xy(X, y, "lgbm", min_samples=3 if self.folds > 1 else 2)
        self._scaler = TargetScaler.fit(y)
        z = self._scaler.transform(y)
        splits = (
            kfold_splits(len(y), self.folds, self.seed, min_train=2)
            if self.folds > 1
            else [(np.arange(len(y)), np.arange(0))]
        )
        seeds = child_seeds(self.seed, len(splits))
        self.models_ = []
        for (train, _), member_seed in zip(splits, seeds):
            model = LGBMRegressor(
                objective=self.objective,
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self._min_child_samples(len(train)),
                n_jobs=self.n_jobs,
                random_state=member_seed,
                deterministic=True,
                force_row_wise=True,
                verbose=-1,
                **self.lgbm_params,
            )
            model.fit(X[train], z[train])
            self.models_.append(model)
        self.n_features_ = X.shape[1]
        return self

    def _min_child_samples(self, n_rows: int) -> int:
        if self.min_child_samples is not None:
            return self.min_child_samples
        return min(20, max(2, n_rows // 10))

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "lgbm")
        assert self._scaler is not None
        z = np.mean([m.predict(X) for m in self.models_], axis=0)
        return self._scaler.inverse(z)
