"""Cubic radial-basis-function interpolants with a linear tail, single and as a random-subspace ensemble.

`rbf` is the member model of NSGANetV2's adaptive switching and of NAT's ensemble (spec §3.5):
s(x) = sum_j w_j |x - x_j|^3 + a + b.x, interpolating the training targets (the cubic kernel is
conditionally positive definite of order 2, so the linear tail makes the system uniquely solvable).

Features are scaled to [0, 1] by their training range. The tail is solved in an orthonormal basis of
the span of the centred training rows, so constant and collinear columns (one-hot genes sum to one
per gene) do not make the system singular; NAT's own code warns that its RBF "might not work with
one-hot encoding" for exactly that reason. Identical rows are merged (mean target) because an
interpolant cannot pass through two values at one point; `smoothing` (added to the kernel diagonal)
guards against near-duplicates.

`rbf_ensemble` (the NAT README figure) averages many such interpolants, each on a random subset of
features of random size 1..m. NAT's version also shuffles the samples per member, which does not
change an interpolant; `sample_fraction < 1` draws a random subset of samples per member instead.
Because the ensemble's prediction is a mean of linear combinations of |x - x_j|^3 terms, all members
are evaluated together with one matrix product per block of query rows (see `_Interpolants`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.linalg import solve
from scipy.spatial.distance import cdist

from natv2.predictors.base import (
    thread_limited,
    InsufficientDataError,
    RangeScaler,
    SurrogateBase,
    TargetScaler,
    check_x,
    check_xy,
    child_seeds,
    mean_over_duplicates,
)
from natv2.predictors.registry import register

_BLOCK_ELEMENTS = 1 << 22  # query rows x kernel centres evaluated at once (32 MiB of float64)


def _solve_cubic(U: np.ndarray, z: np.ndarray, smoothing: float, rank_tol: float):
    """Fit one interpolant on distinct rows U (scaled features). Returns (w, a, b) with b over U's columns."""
    center = U.mean(axis=0)
    _, sv, vt = np.linalg.svd(U - center, full_matrices=False)
    rank = int(np.sum(sv > rank_tol * sv[0])) if sv.size and sv[0] > 0 else 0
    basis = vt[:rank].T  # columns: orthonormal directions the training rows actually span
    Z = (U - center) @ basis
    n, k = Z.shape[0], rank + 1
    dist = cdist(U, U)
    system = np.zeros((n + k, n + k))
    system[:n, :n] = dist * dist * dist
    system[np.arange(n), np.arange(n)] += smoothing
    system[:n, n] = system[n, :n] = 1.0
    system[:n, n + 1 :] = Z
    system[n + 1 :, :n] = Z.T
    rhs = np.concatenate([z, np.zeros(k)])
    sol = solve(system, rhs, assume_a="sym")
    w, c0, c = sol[:n], sol[n], sol[n + 1 :]
    b = basis @ c  # the tail back in scaled-feature coordinates: c0 + ((x - center) @ basis) @ c
    return w, float(c0 - center @ b), b


@dataclass
class _Interpolants:
    """The mean of several cubic interpolants on feature subsets, stored for batched evaluation.

    For every kernel centre u (of the member with feature mask m) the squared distance to a query q is
    (q*q).m - 2 q.u + |u|^2 with u zero outside the mask, so one product [q*q, q, 1] @ B gives the
    distances to all centres of all members at once.
    """

    B: np.ndarray  # (2m + 1) x centres
    w: np.ndarray  # centres, already divided by the member count
    a: float  # mean intercept
    b: np.ndarray  # mean linear coefficients over all m features

    @classmethod
    def build(cls, members: list[tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]], m: int):
        """members: (feature indices, centres U on those features, w, a, b) per interpolant."""
        cols, ws = [], []
        b = np.zeros(m)
        a = 0.0
        for feats, U, w, a_s, b_s in members:
            block = np.zeros((2 * m + 1, U.shape[0]))
            block[feats, :] = 1.0
            block[m + feats, :] = -2.0 * U.T
            block[2 * m, :] = np.sum(U * U, axis=1)
            cols.append(block)
            ws.append(w)
            a += a_s
            b[feats] += b_s
        count = len(members)
        return cls(np.hstack(cols), np.concatenate(ws) / count, a / count, b / count)

    def __call__(self, Xs: np.ndarray) -> np.ndarray:
        out = self.a + Xs @ self.b
        step = max(1, _BLOCK_ELEMENTS // self.B.shape[1])
        for start in range(0, Xs.shape[0], step):
            q = Xs[start : start + step]
            lhs = np.hstack([q * q, q, np.ones((q.shape[0], 1))])
            d2 = np.maximum(lhs @ self.B, 0.0)
            out[start : start + step] += (d2 * np.sqrt(d2)) @ self.w
        return out


def _fit_member(Xs: np.ndarray, z: np.ndarray, feats: np.ndarray, smoothing: float, rank_tol: float):
    U, zu = mean_over_duplicates(Xs[:, feats], z)
    if U.shape[0] < 2:
        return None
    w, a, b = _solve_cubic(U, zu, smoothing, rank_tol)
    return feats, U, w, a, b


@register("rbf")
@dataclass(eq=False)
class CubicRBF(SurrogateBase):
    """Cubic RBF interpolant with a linear tail; `smoothing` > 0 relaxes exact interpolation slightly."""

    smoothing: float = 1e-8
    rank_tol: float = 1e-9

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "CubicRBF":
        X, y = check_xy(X, y, "rbf", min_samples=2)
        self._scaler, self._target = RangeScaler.fit(X), TargetScaler.fit(y)
        member = _fit_member(
            self._scaler.transform(X), self._target.transform(y), np.arange(X.shape[1]), self.smoothing, self.rank_tol
        )
        if member is None:
            raise InsufficientDataError(
                "rbf needs at least 2 distinct feature rows", "evaluate more (distinct) architectures first"
            )
        self._model = _Interpolants.build([member], X.shape[1])
        self.n_features_ = X.shape[1]
        return self

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "rbf")
        return self._target.inverse(self._model(self._scaler.transform(X)))


@register("rbf_ensemble")
@dataclass(eq=False)
class RBFEnsemble(SurrogateBase):
    """Mean of `members` cubic RBFs, each on a random feature subset of random size 1..m.

    NAT used 500 members; 200 is the default here (bench/predictors.py: rank quality levels off,
    prediction cost grows linearly with members).
    """

    members: int = 200
    sample_fraction: float = 1.0
    smoothing: float = 1e-8
    rank_tol: float = 1e-9

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "RBFEnsemble":
        if self.members < 1 or not 0.0 < self.sample_fraction <= 1.0:
            raise ValueError("rbf_ensemble: members must be >= 1 and sample_fraction in (0, 1]")
        X, y = check_xy(X, y, "rbf_ensemble", min_samples=2)
        n, m = X.shape
        self._scaler, self._target = RangeScaler.fit(X), TargetScaler.fit(y)
        Xs, z = self._scaler.transform(X), self._target.transform(y)
        n_take = max(2, int(round(self.sample_fraction * n)))
        fitted = []
        for member_seed in child_seeds(self.seed, self.members):
            rng = np.random.default_rng(member_seed)
            feats = np.sort(rng.permutation(m)[: rng.integers(1, m + 1)])
            rows = np.sort(rng.permutation(n)[:n_take]) if n_take < n else np.arange(n)
            member = _fit_member(Xs[rows], z[rows], feats, self.smoothing, self.rank_tol)
            if member is not None:  # a projection with a single distinct row carries no information
                fitted.append(member)
        if not fitted:
            raise InsufficientDataError(
                "rbf_ensemble: no member saw two distinct feature rows", "evaluate more (distinct) architectures"
            )
        self.members_fitted_ = len(fitted)
        self._model = _Interpolants.build(fitted, m)
        self.n_features_ = m
        return self

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "rbf_ensemble")
        return self._target.inverse(self._model(self._scaler.transform(X)))
