"""Surrogate quality: error and rank agreement, in-sample or out-of-fold.

The search logs these every iteration (spec §3.5): what matters for selection is ranking, so
Kendall tau is the headline number; RMSE says whether the scale is right too.
"""

from __future__ import annotations

import warnings
from typing import Callable, Union

import numpy as np

from natv2.predictors.base import Surrogate, child_seeds, kfold_splits

SurrogateFactory = Callable[[], Surrogate]


def rank_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, Pearson r, Spearman rho and Kendall tau-b of predictions against targets.

    A correlation is NaN (not an exception) when it is undefined: fewer than two points, or either
    side constant. Mismatched lengths or non-finite values raise ValueError.
    """
    from scipy import stats

    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"rank_metrics: y_true has {t.size} values, y_pred {p.size}")
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("rank_metrics: inputs must be finite (found NaN or inf)")
    nan = float("nan")
    out = {"rmse": float(np.sqrt(np.mean((t - p) ** 2))) if t.size else nan}
    if t.size < 2 or np.ptp(t) == 0 or np.ptp(p) == 0:
        out.update(pearson=nan, spearman=nan, kendall=nan)
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-constant inputs: scipy warns, the value is still defined
        out["pearson"] = float(stats.pearsonr(t, p)[0])
        out["spearman"] = float(stats.spearmanr(t, p)[0])
        out["kendall"] = float(stats.kendalltau(t, p)[0])
    return out


def kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall tau-b, NaN when undefined (see rank_metrics)."""
    return rank_metrics(y_true, y_pred)["kendall"]


def _cross_validate(
    surrogate: Union[str, SurrogateFactory], X: np.ndarray, y: np.ndarray, folds: int, seed: int
) -> tuple[np.ndarray, list[float], int]:
    """Out-of-fold predictions (each sample predicted once), per-fold Kendall tau, fold count."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    splits = kfold_splits(len(y), folds, seed, min_test=2)
    if isinstance(surrogate, str):
        from natv2.predictors.registry import create

        seeds = child_seeds(seed, len(splits))
        make: Callable[[int], Surrogate] = lambda i: create(surrogate, seed=seeds[i])  # noqa: E731
    else:
        make = lambda i: surrogate()  # noqa: E731
    pred = np.empty_like(y)
    taus = []
    for i, (train, test) in enumerate(splits):
        pred[test] = make(i).fit(X[train], y[train]).predict(X[test])
        taus.append(kendall_tau(y[test], pred[test]))
    return pred, taus, len(splits)


def out_of_fold_predictions(
    surrogate: Union[str, SurrogateFactory], X: np.ndarray, y: np.ndarray, folds: int = 10, seed: int = 0
) -> np.ndarray:
    """Predict every sample with a surrogate fitted on the other folds.

    `surrogate` is a registry name (member seeds derive from `seed`) or a zero-argument factory
    returning a fresh, unfitted surrogate. Folds shrink for small n (each test fold >= 2 samples).
    """
    return _cross_validate(surrogate, X, y, folds, seed)[0]


def cross_validated_metrics(
    surrogate_factory: Union[str, SurrogateFactory],
    X: np.ndarray,
    y: np.ndarray,
    folds: int = 10,
    seed: int = 0,
) -> dict[str, float]:
    """Out-of-sample rank_metrics over pooled out-of-fold predictions, plus per-fold Kendall mean/std.

    Pooled metrics use every sample once; `kendall_fold_mean/std` (NaN folds ignored) are what
    adaptive switching ranks by; `folds` is the number of folds actually used.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    pred, taus, k = _cross_validate(surrogate_factory, X, y, folds, seed)
    out = rank_metrics(y, pred)
    finite = [t for t in taus if np.isfinite(t)]
    out["folds"] = float(k)
    out["kendall_fold_mean"] = float(np.mean(finite)) if finite else float("nan")
    out["kendall_fold_std"] = float(np.std(finite)) if finite else float("nan")
    return out
