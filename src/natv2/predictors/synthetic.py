"""Synthetic NAS-like targets on NAT's 22 integer genes, for testing and benchmarking surrogates.

Genes follow spec §3.2: x[0] resolution index 0..2, x[1] width index 0..1, x[2..21] 20 layer codes
(slots 1-2 of each stage 1..9, slots 3-4 0..9). Two response shapes:

- "smooth": error falls with every gene with diminishing returns (a concave per-gene effect with
  random weight), plus resolution x capacity and a few random pairwise interactions, plus noise.
  Smooth in the integer genes, like the brief for the surrogate tests.
- "coded": the layer genes are decoded as NAT does (0 = skipped layer, else 1 + 3*idx(e) + idx(k)),
  so the response is saw-toothed in the integer code; harder for distance-based models.

`noise` is the standard deviation of Gaussian noise relative to the standard deviation of the
noiseless signal (measured on a large reference sample), so the attainable tau is known.
"""

from __future__ import annotations

import numpy as np

N_GENES = 22
_LAYER_SLOTS = 20


def sample_genes(n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random gene vectors (n x 22 integer-valued floats)."""
    X = np.empty((n, N_GENES))
    X[:, 0] = rng.integers(0, 3, n)
    X[:, 1] = rng.integers(0, 2, n)
    for slot in range(_LAYER_SLOTS):
        low = 1 if slot % 4 < 2 else 0
        X[:, 2 + slot] = rng.integers(low, 10, n)
    return X


class NASLikeProblem:
    """A fixed random target function (set by `problem_seed`) over the 22 genes; lower is better."""

    def __init__(self, shape: str = "smooth", noise: float = 0.05, problem_seed: int = 0) -> None:
        if shape not in ("smooth", "coded"):
            raise ValueError(f"shape must be 'smooth' or 'coded', got {shape!r}")
        rng = np.random.default_rng(problem_seed)
        self.shape = shape
        self.noise = noise
        stage = np.repeat(np.arange(5), 4)
        self._w = rng.uniform(0.5, 1.5, _LAYER_SLOTS) * (1.0 + 0.15 * stage)  # later stages matter more
        self._w_r, self._w_w = 3.0, 1.5
        self._pairs = rng.choice(_LAYER_SLOTS, size=(4, 2), replace=False) + 2
        self._w_pairs = rng.uniform(0.5, 1.0, 4) * rng.choice([-1.0, 1.0], 4)
        ref = self.noiseless(sample_genes(20000, np.random.default_rng(problem_seed + 1)))
        self._center, self._sd = float(ref.mean()), float(ref.std())

    def _layer_effect(self, codes: np.ndarray) -> np.ndarray:
        if self.shape == "smooth":
            return np.sqrt(codes / 9.0)
        present = codes > 0
        idx = np.maximum(codes - 1, 0)
        e_idx, k_idx = idx // 3, idx % 3
        return present * (0.4 + 0.4 * np.sqrt(e_idx / 2.0) + 0.2 * k_idx / 2.0)

    def noiseless(self, X: np.ndarray) -> np.ndarray:
        """Noiseless 'accuracy score' (higher = better), before standardisation."""
        X = np.asarray(X, dtype=np.float64)
        layers = self._layer_effect(X[:, 2:])
        capacity = layers @ self._w / self._w.sum()
        score = self._w_r * np.sqrt(X[:, 0] / 2.0) + self._w_w * X[:, 1] + layers @ self._w
        score += 4.0 * (X[:, 0] / 2.0) * capacity  # resolution helps more in a larger network
        for (a, b), w in zip(self._pairs, self._w_pairs):
            score += w * (X[:, a] / 9.0) * (X[:, b] / 9.0)
        return score

    def error(self, X: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Top-1-error-like target in roughly [0.1, 0.4]: lower for better genes, plus optional noise."""
        z = (self.noiseless(X) - getattr(self, "_center", 0.0)) / getattr(self, "_sd", 1.0)
        if rng is not None and self.noise > 0:
            z = z + rng.normal(0.0, self.noise, size=z.shape)
        return 0.25 - 0.05 * z


def make_dataset(
    n_train: int, n_test: int, shape: str = "smooth", noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) with noisy targets on both sides, as real evaluations are."""
    problem = NASLikeProblem(shape=shape, noise=noise, problem_seed=0)
    rng = np.random.default_rng(seed)
    X = sample_genes(n_train + n_test, rng)
    y = problem.error(X, rng)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]
