"""Stratified selection of indices (numpy only, so sources can use it without torch)."""

from __future__ import annotations

import numpy as np


def stratified_allocation(counts: np.ndarray, n: int) -> np.ndarray:
    """How many of `n` to take from each class so every class keeps its share: floor of the
    exact quota, then the remaining units to the largest remainders (ties: lower class id)."""
    total = int(counts.sum())
    if not 0 <= n <= total:
        raise ValueError(f"cannot take {n} of {total}")
    exact = counts * (n / total) if total else counts * 0.0
    take = np.minimum(np.floor(exact).astype(np.int64), counts)
    rest = n - int(take.sum())
    if rest:
        order = np.lexsort((np.arange(len(counts)), -(exact - take)))
        for c in order:
            if rest == 0:
                break
            if take[c] < counts[c]:
                take[c] += 1
                rest -= 1
    return take


def stratified_holdout(labels: np.ndarray, n_holdout: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held out) with `n_holdout` held out, class proportions kept.
    Deterministic in `seed`; both index arrays sorted."""
    labels = np.asarray(labels)
    classes, inverse = np.unique(labels, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(classes))
    take = stratified_allocation(counts, n_holdout)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in range(len(classes)):
        members = np.flatnonzero(inverse == c)
        held.append(rng.permutation(members)[: take[c]])
    holdout = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    mask = np.ones(len(labels), dtype=bool)
    mask[holdout] = False
    return np.flatnonzero(mask), holdout
