"""`FinetuneData` over natv2.data's in-memory splits, at one subnet's resolution.

Training batches come from natv2.data's seeded `TrainLoader` (augmented, normalised with the
training split's statistics); step 2 trains on a TRAIN ∪ VALIDATION split built here. Evaluation
batches are un-augmented; BN-calibration batches are the data section's fixed calibration subset.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch

from natv2.data.config import DataConfig
from natv2.data.loaders import TrainLoader, calibration_sampler, eval_loader
from natv2.data.augment import make_train_transform
from natv2.data.splits import DatasetSplits, ImageSplit

Batch = tuple[torch.Tensor, torch.Tensor]


class _Epoch:
    """One epoch of a TrainLoader as a sized iterable (the schedule steps per batch)."""

    def __init__(self, loader: TrainLoader, epoch: int) -> None:
        self.loader, self.epoch = loader, epoch

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        return self.loader.batches(self.epoch)


def merge_splits(a: ImageSplit, b: ImageSplit) -> ImageSplit:
    return ImageSplit(torch.cat([a.images, b.images]), torch.cat([a.labels, b.labels]))


class SplitsData:
    """The four views the two-step protocol needs, at `resolution`."""

    def __init__(self, splits: DatasetSplits, data_cfg: DataConfig, resolution: int, batch_size: int, seed: int = 0) -> None:
        self.splits, self.data_cfg, self.resolution = splits, data_cfg, int(resolution)
        transform = make_train_transform(data_cfg, splits.mean, splits.std)
        self._train = TrainLoader(splits.train, transform, batch_size, resolution=self.resolution, seed=seed)
        self._trainval = TrainLoader(merge_splits(splits.train, splits.val), transform, batch_size,
                                     resolution=self.resolution, seed=seed)
        self._eval = {s: eval_loader(splits, s, data_cfg, self.resolution, keep=(s == "val")) for s in ("val", "test")}
        self._calib = list(calibration_sampler(splits, data_cfg, seed=seed).batches(self.resolution))

    @property
    def has_test(self) -> bool:
        return len(self.splits.test) > 0

    def train_batches(self, epoch: int, include_val: bool) -> _Epoch:
        return _Epoch(self._trainval if include_val else self._train, epoch)

    def eval_batches(self, split: str):
        return self._eval[split]

    def calib_batches(self) -> Sequence[torch.Tensor]:
        return self._calib


class SplitsDataFactory:
    """`resolution -> SplitsData`, keeping the last few resolutions (subnets often share one)."""

    def __init__(self, splits: DatasetSplits, data_cfg: DataConfig, batch_size: int, seed: int = 0, keep: int = 2) -> None:
        self.splits, self.data_cfg, self.batch_size, self.seed, self.keep = splits, data_cfg, batch_size, seed, keep
        self._cache: dict[int, SplitsData] = {}

    def __call__(self, resolution: int) -> SplitsData:
        r = int(resolution)
        if r not in self._cache:
            while len(self._cache) >= self.keep:
                self._cache.pop(next(iter(self._cache)))
            self._cache[r] = SplitsData(self.splits, self.data_cfg, r, self.batch_size, self.seed)
        return self._cache[r]
