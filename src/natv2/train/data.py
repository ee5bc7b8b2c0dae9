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


class SplitsTrainingData:
    """`TrainingData` over natv2.data's in-memory splits and loaders (seeded, rank-sharded, per-batch
    resolution; BN-calibration subset fixed by `seed`; evaluation batches kept per resolution).
    With `device` an accelerator, the splits move there when `data_cfg.on_device` allows it."""

    def __init__(self, splits, data_cfg, seed: int = 0, device=None) -> None:
        from natv2.data.augment import make_train_transform
        from natv2.data.loaders import calibration_sampler
        from natv2.data.placement import place_splits

        splits = place_splits(splits, device, getattr(data_cfg, "on_device", "auto"))
        self.splits, self.data_cfg, self.seed = splits, data_cfg, seed
        self.n_classes = int(splits.num_classes)
        self.batch_size = int(data_cfg.batch_size)
        self._transform = make_train_transform(data_cfg, splits.mean, splits.std)
        self._calib = calibration_sampler(splits, data_cfg, seed=seed)
        self._calib_cache: dict[int, list[Tensor]] = {}
        self._eval_cache: dict[tuple[str, int], object] = {}

    def steps_per_epoch(self, world_size: int) -> int:
        return (len(self.splits.train) // world_size) // self.batch_size

    def train_batches(self, epoch_seed: int, resolutions: Sequence[int], rank: int, world_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        from natv2.data.loaders import TrainLoader
        from natv2.data.resolution import ResolutionSampler

        loader = TrainLoader(self.splits.train, self._transform, self.batch_size,
                             resolution=ResolutionSampler(resolutions, epoch_seed), seed=epoch_seed,
                             rank=rank, world_size=world_size)
        return loader.batches(0)

    def calibration_batches(self, resolution: int) -> Sequence[Tensor]:
        if resolution not in self._calib_cache:
            self._calib_cache = {resolution: list(self._calib.batches(resolution))}  # one resolution at a time
        return self._calib_cache[resolution]

    def eval_batches(self, resolution: int, split: str = "val") -> Iterable[tuple[Tensor, Tensor]]:
        from natv2.data.loaders import eval_loader

        key = (split, resolution)
        if key not in self._eval_cache:
            self._eval_cache[key] = eval_loader(self.splits, split, self.data_cfg, resolution, keep=True)
        return self._eval_cache[key]
