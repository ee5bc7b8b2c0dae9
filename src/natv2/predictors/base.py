"""Shared pieces of every surrogate: the `Surrogate` protocol, input checks, fold splits and scalers.

Surrogates take features as given (integer genes or one-hot: the search chooses) and targets such as
top-1 error. They standardise targets internally, so their behaviour does not depend on whether the
caller passes error in [0, 1] or in percent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar, runtime_checkable

import numpy as np

from natv2.errors import NatError

T = TypeVar("T")


@runtime_checkable
class Surrogate(Protocol):
    """A regressor from feature rows to a scalar target (lower or higher is the caller's business)."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> "Surrogate": ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


class InsufficientDataError(NatError, ValueError):
    """Too few training samples for the requested surrogate; the message names the minimum."""


def check_xy(X: np.ndarray, y: np.ndarray, name: str, min_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return X (n x m) and y (n,) as float64 after checking shapes, finiteness and the sample count."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name}: X must be 2-D (samples x features), got shape {X.shape}")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{name}: y must have one value per row of X ({X.shape[0]}), got shape {y.shape}")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: X has no feature columns")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError(f"{name}: X and y must be finite (found NaN or inf)")
    if X.shape[0] < min_samples:
        raise InsufficientDataError(
            f"{name} needs at least {min_samples} training samples, got {X.shape[0]}",
            "evaluate more architectures before fitting the surrogate, or choose a simpler surrogate",
        )
    return X, y


def check_x(X: np.ndarray, n_features: int | None, name: str) -> np.ndarray:
    """Return X as float64 (n x m), checking it matches the width seen at fit time."""
    if n_features is None:
        raise RuntimeError(f"{name}: call fit() before predict()")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1 and X.shape[0] == n_features:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"{name}: X must have shape (n, {n_features}), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: X must be finite (found NaN or inf)")
    return X


def child_seeds(seed: int, count: int) -> list[int]:
    """Independent 32-bit seeds for `count` members, derived only from `seed` (stable across runs)."""
    state = np.random.SeedSequence(int(seed)).generate_state(count, dtype=np.uint32)
    return [int(s) for s in state]


def _fold_count(n: int, folds: int, min_test: int, min_train: int) -> int:
    """Folds actually usable for n samples (0 if none): at most `folds`, test folds >= min_test rows,
    training parts >= min_train rows."""
    k = min(folds, n // min_test)
    if k < 2 or n - -(-n // k) < min_train:
        return 0
    return k


def kfold_splits(
    n: int, folds: int, seed: int, min_test: int = 1, min_train: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold (train, test) index pairs.

    With few samples the fold count is reduced so every test fold holds at least `min_test` samples
    and every training part at least `min_train`; when even 2 folds cannot, it raises naming the
    minimum number of samples.
    """
    if folds < 2:
        raise ValueError(f"k-fold needs at least 2 folds, got {folds}")
    k = _fold_count(n, folds, min_test, min_train)
    if k == 0:
        candidates = range(2, 2 * (min_test + min_train) + 2)
        minimum = next(m for m in candidates if _fold_count(m, folds, min_test, min_train))
        raise InsufficientDataError(
            f"{folds}-fold cross-validation needs at least {minimum} samples, got {n}",
            "evaluate more architectures first",
        )
    perm = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(perm, k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(part)) for i, part in enumerate(parts)]


@dataclass(eq=False)
class SurrogateBase:
    """What every surrogate has: a seed (deterministic fits) and the BLAS/OpenMP threads it may use while
    fitting and predicting (`thread_limited`; None leaves the process setting). Subclasses add their
    hyper-parameters as further fields and call `super().__post_init__()`."""

    seed: int = 0
    threads: int | None = 1

    def __post_init__(self) -> None:
        self.n_features_: int | None = None


@dataclass(frozen=True)
class TargetScaler:
    """Standardises targets (constant targets get unit scale) so hyper-parameters are scale-free."""

    mean: float
    scale: float

    @classmethod
    def fit(cls, y: np.ndarray) -> "TargetScaler":
        std = float(np.std(y))
        return cls(float(np.mean(y)), std if std > 0 else 1.0)

    def transform(self, y: np.ndarray) -> np.ndarray:
        return (y - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return z * self.scale + self.mean


@dataclass(frozen=True)
class RangeScaler:
    """Maps each feature to [0, 1] by its training range; constant features map to 0."""

    low: np.ndarray
    span: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "RangeScaler":
        low = X.min(axis=0)
        span = X.max(axis=0) - low
        return cls(low, np.where(span > 0, span, 1.0))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.low) / self.span


def mean_over_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Collapse identical rows to one, with the mean of their targets (interpolants need distinct points)."""
    unique, inverse = np.unique(X, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if unique.shape[0] == X.shape[0]:
        return X, y
    sums = np.bincount(inverse, weights=y, minlength=unique.shape[0])
    counts = np.bincount(inverse, minlength=unique.shape[0])
    return unique, sums / counts


def thread_limited(method: Callable[..., T]) -> Callable[..., T]:
    """Run a fit/predict method with at most `self.threads` BLAS/OpenMP threads (None: leave as is).

    Surrogate matrices are small (hundreds of rows), so extra threads add synchronisation, not speed:
    on a shared 2-core machine a GP fit took 2.6x to 12x the CPU time with two BLAS threads as with one
    (bench/predictors.py). The limit is restored on exit. Finding the thread pools costs a few ms, so
    each fit looks them up once (after its imports) and predict reuses that lookup.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        threads = getattr(self, "threads", None)
        if threads is None:
            return method(self, *args, **kwargs)
        from threadpoolctl import ThreadpoolController

        controller = None if method.__name__ == "fit" else getattr(self, "_thread_pools", None)
        if controller is None:
            controller = ThreadpoolController()
            self._thread_pools = controller
        with controller.limit(limits=int(threads)):
            return method(self, *args, **kwargs)

    return wrapper
