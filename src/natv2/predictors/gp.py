"""Gaussian-process surrogate with a linear trend, the analogue of NSGANetV2's DACE model (spec §3.5).

DACE (pydacefit) fits a linear regression trend and a Gaussian-correlation process jointly by
maximum likelihood. Here the two steps are separate: a ridge regression on features scaled to [0, 1]
gives the trend, then scikit-learn's GaussianProcessRegressor models the residuals with
constant * RBF (one length scale per feature, i.e. DACE's per-feature theta) + white noise,
normalize_y=True. The white-noise term lets the GP absorb evaluation noise instead of interpolating
it. Length-scale bounds (0.01, 1000) on [0, 1] features cover DACE's theta bounds [1e-5, 100]
(length = 1 / sqrt(2 theta)) except the smoothest end, where the trend already explains the data.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from natv2.predictors.base import RangeScaler, SurrogateBase, TargetScaler, check_x, check_xy, thread_limited
from natv2.predictors.registry import register


def _lbfgs(objective: Callable, theta0: np.ndarray, bounds: np.ndarray, max_iter: int) -> tuple[np.ndarray, float]:
    """L-BFGS-B on the negative log marginal likelihood with an iteration cap (sklearn's has none).

    On ridge residuals the likelihood is flat in many length scales; the cap bounds the fit time
    (each step costs one n^3 factorisation) at little cost in ranking quality (bench/predictors.py).
    """
    from scipy.optimize import minimize

    res = minimize(objective, theta0, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": max_iter})
    return res.x, float(res.fun)


@register("gp")
@dataclass(eq=False)
class GaussianProcess(SurrogateBase):
    """Ridge trend + anisotropic RBF Gaussian process on the residuals."""

    ridge_alpha: float = 1e-3
    length_scale_bounds: tuple[float, float] = (1e-2, 1e3)
    noise_level: float = 1e-2
    noise_bounds: tuple[float, float] = (1e-8, 1.0)
    n_restarts: int = 0
    max_iter: int = 30

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "GaussianProcess":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
        from sklearn.linear_model import Ridge

        X, y = check_xy(X, y, "gp", min_samples=2)
        self._scaler = RangeScaler.fit(X)
        self._active = (X.max(axis=0) - X.min(axis=0)) > 0  # constant columns carry no information
        if not self._active.any():
            self._active[:] = True
        Xs = self._features(X)
        self._target = TargetScaler.fit(y)
        z = self._target.transform(y)
        self._trend = Ridge(alpha=self.ridge_alpha).fit(Xs, z)
        residual = z - self._trend.predict(Xs)
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(
            length_scale=np.ones(Xs.shape[1]), length_scale_bounds=self.length_scale_bounds
        ) + WhiteKernel(self.noise_level, self.noise_bounds)
        self._gp = GaussianProcessRegressor(
            kernel=kernel,
            normalize_y=True,
            optimizer=partial(_lbfgs, max_iter=self.max_iter),
            n_restarts_optimizer=self.n_restarts,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a length scale at its bound is expected
            self._gp.fit(Xs, residual)
        self.n_features_ = X.shape[1]
        return self

    def _features(self, X: np.ndarray) -> np.ndarray:
        return self._scaler.transform(X)[:, self._active]

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        X = check_x(X, self.n_features_, "gp")
        Xs = self._features(X)
        return self._target.inverse(self._trend.predict(Xs) + self._gp.predict(Xs))
