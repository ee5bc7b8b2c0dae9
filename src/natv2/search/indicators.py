"""Front quality: non-dominated filtering, hypervolume against a FIXED normalisation, high-trade-off picks.

NAT recomputes its HV reference point from each run's initial archive, so its figures cannot be compared
across runs. Here objectives are normalised as (f - ideal) / (nadir - ideal) with bounds taken from the
config, and the reference point is `ref` (e.g. 1.1) in every normalised objective.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Indices of the rows of F (minimisation) that no other row dominates; duplicates are all kept."""
    F = np.atleast_2d(np.asarray(F, dtype=np.float64))
    if len(F) == 0:
        return np.zeros(0, dtype=np.int64)
    le = np.all(F[:, None, :] <= F[None, :, :], axis=2)  # le[j, i]: j is no worse than i everywhere
    lt = np.any(F[:, None, :] < F[None, :, :], axis=2)
    dominated = np.any(le & lt, axis=0)
    return np.flatnonzero(~dominated)


def normalise(F: np.ndarray, bounds: Sequence[tuple[float, float]]) -> np.ndarray:
    lo = np.array([b[0] for b in bounds], dtype=np.float64)
    hi = np.array([b[1] for b in bounds], dtype=np.float64)
    return (np.atleast_2d(np.asarray(F, dtype=np.float64)) - lo) / (hi - lo)


def bounds_for(names: Sequence[str], hv_bounds: Mapping[str, Sequence[float]]) -> list[tuple[float, float]]:
    return [(float(hv_bounds[n][0]), float(hv_bounds[n][1])) for n in names]


def hypervolume(F: np.ndarray, bounds: Sequence[tuple[float, float]], ref: float = 1.1) -> float:
    """HV of the non-dominated rows of F after fixed normalisation, reference point `ref` per objective.

    Points beyond the reference point in any objective contribute nothing. Range: [0, ref ** m].
    """
    Z = normalise(F, bounds)
    if Z.size == 0:
        return 0.0
    Z = Z[np.all(Z < ref, axis=1)]
    if len(Z) == 0:
        return 0.0
    Z = Z[non_dominated(Z)]
    if Z.shape[1] == 1:
        return float(ref - Z[:, 0].min())
    if Z.shape[1] == 2:  # exact sweep, no library call needed
        Z = Z[np.lexsort((Z[:, 1], Z[:, 0]))]
        hv, prev_y = 0.0, ref
        for x, y in Z:
            if y < prev_y:
                hv += (ref - x) * (prev_y - y)
                prev_y = y
        return float(hv)
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=np.full(Z.shape[1], ref)).do(Z))


def high_tradeoff(F: np.ndarray, n: int = 4, eps: float = 0.125, min_neighbours: int = 2) -> np.ndarray:
    """Indices of the `n` non-dominated rows of F with the largest trade-off (spec §3.10), best first.

    The front is normalised to [0, 1] per objective. For a point i and each neighbour j (within `eps`,
    or its `min_neighbours` nearest when none is that close), the trade-off of moving i -> j is
    loss / gain = sum(max(0, F_j - F_i)) / sum(max(0, F_i - F_j)): what is given up per unit won.
    A point's trade-off is its smallest value over neighbours; knees have large values.
    """
    F = np.atleast_2d(np.asarray(F, dtype=np.float64))
    nd = non_dominated(F)
    if len(nd) <= n:
        return nd[np.argsort(F[nd, 0], kind="stable")]
    P = F[nd]
    span = P.max(axis=0) - P.min(axis=0)
    Z = (P - P.min(axis=0)) / np.where(span > 0, span, 1.0)
    dist = np.linalg.norm(Z[:, None, :] - Z[None, :, :], axis=2)
    np.fill_diagonal(dist, np.inf)
    tradeoff = np.empty(len(Z))
    for i in range(len(Z)):
        neigh = np.flatnonzero(dist[i] <= eps)
        if len(neigh) < 1:
            neigh = np.argsort(dist[i], kind="stable")[:min_neighbours]
        delta = Z[neigh] - Z[i]
        loss = np.maximum(delta, 0).sum(axis=1)
        gain = np.maximum(-delta, 0).sum(axis=1)
        ratio = np.where(gain > 0, loss / np.maximum(gain, 1e-300), np.inf)
        tradeoff[i] = ratio.min()
    order = np.argsort(-tradeoff, kind="stable")[:n]
    return nd[order]
