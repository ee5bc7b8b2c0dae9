"""Subset selection of the K candidates to evaluate (spec §3.7), as a vectorised bit-string GA.

Fitness of a subset S (minimised): max over cost objectives j of std(diff(sort(front_j ∪ S_j))), on
normalised costs. Small values mean the front plus S is evenly spaced: candidates that fill gaps win.
Every individual holds exactly K ones; crossover keeps the parents' common bits and fills the rest from
their symmetric difference; mutation swaps one 1 with one 0. The whole population is scored in one
numpy expression per objective, so 500 x 200 generations take about a second.
"""

from __future__ import annotations

import numpy as np


def subset_fitness(selected: np.ndarray, cand: np.ndarray, front: np.ndarray) -> np.ndarray:
    """Fitness of each row of `selected` (pop x K candidate indices); cand (N x m), front (A x m)."""
    pop, k = selected.shape
    worst = np.zeros(pop)
    for j in range(cand.shape[1]):
        vals = np.concatenate([np.broadcast_to(front[:, j], (pop, front.shape[0])), cand[selected, j]], axis=1)
        vals.sort(axis=1)
        gaps = np.diff(vals, axis=1)
        worst = np.maximum(worst, gaps.std(axis=1) if gaps.shape[1] else 0.0)
    return worst


def _to_indices(bits: np.ndarray, k: int) -> np.ndarray:
    # stable argsort of ~bits puts the K selected columns first, in increasing order
    return np.argsort(~bits, axis=1, kind="stable")[:, :k]


def _random_subsets(n_rows: int, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    keys = rng.random((n_rows, n))
    idx = np.argpartition(keys, k - 1, axis=1)[:, :k]
    bits = np.zeros((n_rows, n), dtype=bool)
    np.put_along_axis(bits, idx, True, axis=1)
    return bits


def _crossover(a: np.ndarray, b: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    common = a & b
    diff = a ^ b
    need = k - common.sum(axis=1)
    keys = np.where(diff, rng.random(a.shape), np.inf)
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    return common | (diff & (rank < need[:, None]))


def _swap_mutation(bits: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    out = bits.copy()
    rows = np.flatnonzero(rng.random(len(bits)) < prob)
    if len(rows) == 0:
        return out
    sub = out[rows]
    one = np.argmax(np.where(sub, rng.random(sub.shape), -1.0), axis=1)
    zero = np.argmax(np.where(~sub, rng.random(sub.shape), -1.0), axis=1)
    has_zero = (~sub).any(axis=1)
    r = np.flatnonzero(has_zero)
    sub[r, one[r]] = False
    sub[r, zero[r]] = True
    out[rows] = sub
    return out


def _unique_rows(bits: np.ndarray) -> np.ndarray:
    packed = np.packbits(bits, axis=1)
    _, first = np.unique(packed, axis=0, return_index=True)
    return np.sort(first)


def select_subset(
    cand: np.ndarray,
    front: np.ndarray,
    k: int,
    rng: np.random.Generator,
    pop_size: int = 500,
    n_gen: int = 200,
    mutation_prob: float = 1.0,
) -> np.ndarray:
    """Indices of `k` rows of `cand` (normalised cost objectives) that best even out `front` (sorted)."""
    cand = np.atleast_2d(np.asarray(cand, dtype=np.float64))
    front = np.atleast_2d(np.asarray(front, dtype=np.float64)).reshape(-1, cand.shape[1])
    n = len(cand)
    if n <= k:
        return np.arange(n)
    if cand.shape[1] == 0:
        return np.arange(k)
    bits = _random_subsets(pop_size, n, k, rng)
    bits = bits[_unique_rows(bits)]
    fit = subset_fitness(_to_indices(bits, k), cand, front)
    for _ in range(n_gen):
        # binary tournaments pick both parents of every child
        t = rng.integers(len(bits), size=(pop_size, 2, 2))
        winners = np.where(fit[t[..., 0]] <= fit[t[..., 1]], t[..., 0], t[..., 1])
        child = _crossover(bits[winners[:, 0]], bits[winners[:, 1]], k, rng)
        child = _swap_mutation(child, rng, mutation_prob)
        merged = np.concatenate([bits, child])
        merged_fit = np.concatenate([fit, subset_fitness(_to_indices(child, k), cand, front)])
        keep = _unique_rows(merged)
        keep = keep[np.argsort(merged_fit[keep], kind="stable")[:pop_size]]
        bits, fit = merged[keep], merged_fit[keep]
    best = int(np.argmin(fit))
    return np.flatnonzero(bits[best])
