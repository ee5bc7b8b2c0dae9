"""Random-subspace ensemble of regression trees (NSGANetV2's "carts", spec §3.5).

Each fully grown tree sees a random subset of features of random size 1..m; the prediction is the
mean over trees. Averaging trees built on different feature subsets turns the step functions of
single trees into a smoother, more additive response. NSGANetV2 used 5,000 trees; the default here is
smaller (bench/predictors.py measures the cost). `bootstrap=True` also resamples rows per tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from natv2.predictors.base import SurrogateBase, check_x, check_xy, child_seeds, thread_limited
from natv2.predictors.registry import register


@register("carts")
@dataclass(eq=False)
class CARTEnsemble(SurrogateBase):
    """Mean of `n_trees` decision trees, each on a random feature subset."""

    n_trees: int = 200
    max_depth: int | None = None
    min_samples_leaf: int = 1
    bootstrap: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._trees: list[tuple[np.ndarray, object]] = []

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "CARTEnsemble":
        from sklearn.tree import DecisionTreeRegressor

        if self.n_trees < 1:
            raise ValueError("carts: n_trees must be >= 1")
        X, y = check_xy(X, y, "carts", min_samples=1)
        n, m = X.shape
        self._trees = []
        for tree_seed in child_seeds(self.seed, self.n_trees):
            rng = np.random.default_rng(tree_seed)
            feats = np.sort(rng.permutation(m)[: rng.integers(1, m + 1)])
            rows = rng.integers(0, n, size=n) if self.bootstrap else np.arange(n)
            tree = DecisionTreeRegressor(
                max_depth=self.max_depth, min_samples_leaf=self.min_samples_leaf, random_state=tree_seed
            )
            tree.fit(X[np.ix_(rows, feats)], y[rows])
            self._trees.append((feats, tree))
        self.n_features_ = m
        return self

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "carts")
        return np.mean([tree.predict(X[:, feats]) for feats, tree in self._trees], axis=0)
