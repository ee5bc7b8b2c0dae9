"""Accuracy surrogates behind one `fit(X, y) / predict(X)` interface, and rank metrics.

    from natv2.predictors import create, list_surrogates
    model = create("lgbm", seed=0).fit(X, err)   # X: n x m float features, err: n targets
    pred = model.predict(X_new)

Names: lgbm (NATv2 default), rbf, rbf_ensemble, gp, carts, mlp, adaptive; `surrogate_params(name)`
lists a model's parameters and defaults. All are deterministic for a seed and run single-threaded by
default (`threads=None` leaves the process setting). LightGBM, scikit-learn and torch are imported
when a model that needs them is fitted; scipy on import (its BLAS must be loaded before the thread
limit is applied). bench/predictors.py measures cost and ranking quality at archive 300.
"""

from natv2.predictors import adaptive, carts, gp, lgbm, mlp, rbf  # noqa: F401  (register the surrogates)
from natv2.predictors.base import InsufficientDataError, Surrogate
from natv2.predictors.metrics import cross_validated_metrics, out_of_fold_predictions, rank_metrics
from natv2.predictors.registry import create, list_surrogates, register, surrogate_params

__all__ = [
    "InsufficientDataError",
    "Surrogate",
    "create",
    "cross_validated_metrics",
    "list_surrogates",
    "out_of_fold_predictions",
    "rank_metrics",
    "register",
    "surrogate_params",
]
