"""A fixed class-stratified subset of a split, taken from its evaluation batches.

Capping an evaluation at its first batches reads whichever classes come first (an image-folder split
is class-sorted), so a cheaper evaluation keeps every class's share instead: the rows are chosen once
from the split's labels (the same rows at every resolution) and selected batch by batch.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from natv2.data.stratify import stratified_holdout

Batches = Iterable[tuple[Tensor, Tensor]]


def labels_of(batches: Batches) -> np.ndarray:
    """Every label of a stream of (x, y) batches, in order."""
    return torch.cat([y.reshape(-1).cpu() for _, y in batches]).numpy()


def stratified_rows(labels: np.ndarray, max_images: int) -> np.ndarray | None:
    """Sorted rows of a class-stratified subset of `max_images` of `labels` (seed 0); None when that is all."""
    if max_images >= len(labels):
        return None
    return stratified_holdout(labels, max_images, seed=0)[1]


def select_rows(batches: Batches, rows: np.ndarray) -> Iterator[tuple[Tensor, Tensor]]:
    """The rows `rows` (sorted global indices) of a stream of (x, y) batches, batch by batch."""
    start = 0
    for x, y in batches:
        n = int(y.shape[0])
        lo, hi = np.searchsorted(rows, [start, start + n])
        if hi > lo:
            idx = torch.as_tensor(rows[lo:hi] - start, dtype=torch.long)
            yield x[idx.to(x.device)], y[idx.to(y.device)]
        start += n
