"""In-memory loaders over `ImageSplit`s: training (seeded shuffle, rank sharding, per-batch
resolution), evaluation (fixed order, no augmentation) and the BN-calibration sampler.

Every random choice is derived from (seed, epoch, step, rank), never from a running stream, so
a run resumed at any step sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
import torch

from natv2.data.augment import EvalTransform, TrainTransform, make_eval_transform, make_train_transform
from natv2.data.config import DataConfig
from natv2.data.resolution import ResolutionSampler
from natv2.data.splits import DatasetSplits, ImageSplit
from natv2.errors import ConfigError

# Independent random streams, mixed into the seed words.
_SHUFFLE, _AUGMENT, _CALIB_PICK, _CALIB_AUG = 11, 12, 13, 14


def seeded_generator(*words: int) -> torch.Generator:
    """A torch.Generator seeded by hashing `words` (stable across runs, ranks and platforms)."""
    state = np.random.SeedSequence([int(w) for w in words]).generate_state(2, dtype=np.uint32)
    gen = torch.Generator()
    gen.manual_seed(int(state[0]) << 31 | int(state[1]) >> 1)
    return gen


def _as_sampler(resolution: ResolutionSampler | int | Sequence[int], seed: int) -> ResolutionSampler:
    return resolution if isinstance(resolution, ResolutionSampler) else ResolutionSampler(resolution, seed)


class TrainLoader:
    """Yields (float32 normalised channels_last images, int64 labels) for one epoch per
    `batches(epoch)` (or iteration after `set_epoch`). Each rank sees a disjoint, equally long
    share of one seeded permutation; all ranks use the same resolution at the same step."""

    def __init__(
        self,
        split: ImageSplit,
        transform: TrainTransform,
        batch_size: int,
        *,
        resolution: ResolutionSampler | int | Sequence[int],
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside world size {world_size}", fix="check the launcher.")
        if batch_size <= 0:
            raise ConfigError(f"batch size {batch_size} must be positive", fix="set data.batch_size >= 1.")
        self.split, self.transform, self.batch_size = split, transform, batch_size
        self.resolution = _as_sampler(resolution, seed)
        self.seed, self.rank, self.world_size, self.drop_last = seed, rank, world_size, drop_last
        n = len(split)
        self.per_rank = n // world_size if drop_last else math.ceil(n / world_size)
        if len(self) == 0:
            raise ConfigError(
                f"a training batch of {batch_size} does not fit the {self.per_rank} images per rank",
                fix="lower data.batch_size (or use more data).",
            )
        self.epoch = 0

    def __len__(self) -> int:
        if self.drop_last:
            return self.per_rank // self.batch_size
        return math.ceil(self.per_rank / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self, epoch: int) -> torch.Tensor:
        """This rank's image order for `epoch`."""
        n = len(self.split)
        perm = torch.randperm(n, generator=seeded_generator(self.seed, _SHUFFLE, epoch))
        total = self.per_rank * self.world_size
        if total > n:  # no drop_last: wrap around so every rank gets as many images
            perm = torch.cat([perm, perm[: total - n]])
        return perm[self.rank : total : self.world_size]

    def batches(self, epoch: int, start_step: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        idx = self.indices(epoch).to(self.split.labels.device)  # drawn on the CPU, used where the data is
        for step in range(start_step, len(self)):
            b = idx[step * self.batch_size : (step + 1) * self.batch_size]
            gen = seeded_generator(self.seed, _AUGMENT, epoch, step, self.rank)
            r = self.resolution(epoch, step)
            yield self.transform(self.split.images.index_select(0, b), r, gen), self.split.labels.index_select(0, b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.batches(self.epoch)


class EvalLoader:
    """Fixed-order batches at one resolution, no augmentation. With `keep=True` the prepared
    batches are kept after the first pass (worth it when many subnets are evaluated at the
    same resolution; costs 4 bytes per pixel)."""

    def __init__(
        self,
        split: ImageSplit,
        transform: EvalTransform,
        resolution: int,
        batch_size: int,
        *,
        rank: int = 0,
        world_size: int = 1,
        keep: bool = False,
    ) -> None:
        if batch_size <= 0:
            raise ConfigError(f"batch size {batch_size} must be positive", fix="set data.eval_batch_size >= 1.")
        self.split, self.transform, self.resolution, self.batch_size = split, transform, resolution, batch_size
        self.idx = torch.arange(rank, len(split), world_size, device=split.labels.device)
        self.keep = keep
        self._kept: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def __len__(self) -> int:
        return math.ceil(len(self.idx) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self._kept is not None:
            yield from self._kept
            return
        kept = []
        for lo in range(0, len(self.idx), self.batch_size):
            b = self.idx[lo : lo + self.batch_size]
            item = (self.transform(self.split.images.index_select(0, b), self.resolution), self.split.labels.index_select(0, b))
            if self.keep:
                kept.append(item)
            yield item
        if self.keep:
            self._kept = kept


class CalibrationSampler:
    """A fixed, seeded subset of training images for BN re-calibration, served in batches with
    the training transform at a given resolution (rebuilt per resolution, as OFA does). The
    same (seed, resolution) always gives the same batches."""

    def __init__(self, split: ImageSplit, transform: TrainTransform, size: int, batch_size: int, seed: int = 0) -> None:
        if size <= 0 or batch_size <= 0:
            raise ConfigError(
                f"calibration size {size} and batch size {batch_size} must be positive",
                fix="set data.calib_size and data.calib_batch_size >= 1.",
            )
        n = min(size, len(split))
        pick = torch.randperm(len(split), generator=seeded_generator(seed, _CALIB_PICK))[:n]
        self.indices = pick.sort().values.to(split.labels.device)
        self.split, self.transform, self.batch_size, self.seed = split, transform, batch_size, seed

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def batches(self, resolution: int) -> Iterator[torch.Tensor]:
        for i, lo in enumerate(range(0, len(self.indices), self.batch_size)):
            b = self.indices[lo : lo + self.batch_size]
            gen = seeded_generator(self.seed, _CALIB_AUG, resolution, i)
            yield self.transform(self.split.images.index_select(0, b), resolution, gen)


# -- factories from a DataConfig -------------------------------------------------------------


def train_loader(
    splits: DatasetSplits,
    cfg: DataConfig,
    resolutions: ResolutionSampler | int | Sequence[int],
    *,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int | None = None,
) -> TrainLoader:
    """A seeded, rank-sharded training loader of `splits.train` with `cfg`'s augmentation, drawing a resolution per
    batch."""
    transform = make_train_transform(cfg, splits.mean, splits.std)
    return TrainLoader(
        splits.train, transform, batch_size or cfg.batch_size, resolution=resolutions, seed=seed,
        rank=rank, world_size=world_size,
    )


def eval_loader(
    splits: DatasetSplits, which: str, cfg: DataConfig, resolution: int, *, rank: int = 0,
    world_size: int = 1, keep: bool = False,
) -> EvalLoader:
    """Evaluation batches of split `which` ("val" or "test") at `resolution`."""
    if which not in ("train", "val", "test"):
        raise ConfigError(f"unknown split {which!r}", fix="use train, val or test.")
    transform = make_eval_transform(cfg, splits.mean, splits.std, splits.image_size)
    return EvalLoader(getattr(splits, which), transform, resolution, cfg.eval_batch_size, rank=rank,
                      world_size=world_size, keep=keep)


def calibration_sampler(splits: DatasetSplits, cfg: DataConfig, *, seed: int = 0) -> CalibrationSampler:
    """The fixed BN-recalibration subset of the training split (training transform, seeded)."""
    transform = make_train_transform(cfg, splits.mean, splits.std)
    return CalibrationSampler(splits.train, transform, cfg.calib_size, cfg.calib_batch_size, seed)
