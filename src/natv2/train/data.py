"""What the trainer needs from a dataset, as a small protocol (the `natv2.data` loaders provide it).

Training batches arrive already augmented, normalised and resized to the resolution the loader's
seeded sampler picked for that batch (identical on every rank); the trainer never resizes.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Protocol, Sequence, runtime_checkable

from torch import Tensor


@runtime_checkable
class TrainingData(Protocol):
    n_classes: int
    batch_size: int  # per rank

    def steps_per_epoch(self, world_size: int) -> int:
        """Batches each rank draws per epoch (the same on every rank)."""

    def train_batches(self, epoch_seed: int, resolutions: Sequence[int], rank: int, world_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch of this rank's shard: (images float NCHW normalised, labels int64)."""

    def calibration_batches(self, resolution: int) -> Sequence[Tensor]:
        """The fixed BN-recalibration subset at `resolution` (training transform, same every call)."""

    def eval_batches(self, resolution: int, split: str = "val") -> Iterable[tuple[Tensor, Tensor]]:
        """Deterministic batches of a held-out split at `resolution`."""
