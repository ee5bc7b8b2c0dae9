"""Splits as tensors: stratified hold-out and subsets, channel statistics, `DatasetSplits`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from natv2.data.stratify import stratified_allocation, stratified_holdout
from natv2.errors import DataError

__all__ = ["DatasetSplits", "ImageSplit", "channel_stats", "resolve_count", "stratified_allocation", "stratified_holdout"]


def resolve_count(size: float | int, total: int, what: str) -> int:
    """An int is a count; a float in (0, 1) a fraction of `total`."""
    if isinstance(size, bool):
        raise DataError(f"{what}={size!r} is not a number", fix=f"give {what} as an image count or a fraction in (0, 1).")
    if isinstance(size, float) and not size.is_integer():
        if not 0.0 < size < 1.0:
            raise DataError(f"{what}={size} is not a fraction in (0, 1)", fix=f"give {what} as a count or a fraction.")
        return int(round(size * total))
    n = int(size)
    if not 0 <= n < total:
        raise DataError(
            f"{what}={n} does not fit a training set of {total} images",
            fix=f"choose {what} between 0 and {total - 1} (or a fraction such as 0.1).",
        )
    return n


def channel_stats(images: torch.Tensor, chunk: int = 2048) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images in [0, 1] units, exact: from per-channel
    256-bin histograms (np.bincount is ~10x faster here than float reductions in torch)."""
    n, c = images.shape[0], images.shape[1]
    if n == 0:
        raise DataError("cannot compute channel statistics of an empty training split", fix="check the data.")
    hist = np.zeros((c, 256), dtype=np.int64)
    for lo in range(0, n, chunk):
        # numpy's transposing copy of uint8 is ~8x faster than torch's
        block = np.ascontiguousarray(images[lo : lo + chunk].contiguous().numpy().transpose(1, 0, 2, 3))
        block = block.reshape(c, -1)
        for k in range(c):
            hist[k] += np.bincount(block[k], minlength=256)
    values = np.arange(256, dtype=np.float64)
    count = hist.sum(axis=1)
    mean = hist @ values / count
    var = np.maximum(hist @ (values * values) / count - mean * mean, 0.0)
    return tuple((mean / 255).tolist()), tuple((np.sqrt(var) / 255).tolist())


@dataclass(frozen=True)
class ImageSplit:
    """uint8 images N x 3 x H x W and int64 labels N, in memory."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def nbytes(self) -> int:
        return self.images.numel() * self.images.element_size() + self.labels.numel() * self.labels.element_size()

    def to(self, device: torch.device | str) -> ImageSplit:
        """The same split with its tensors on `device` (augmentation then runs there too)."""
        return ImageSplit(self.images.to(device), self.labels.to(device))

    def subset(self, idx: np.ndarray | torch.Tensor) -> ImageSplit:
        idx_t = torch.as_tensor(np.asarray(idx), dtype=torch.long).to(self.labels.device)
        return ImageSplit(self.images.index_select(0, idx_t), self.labels.index_select(0, idx_t))

    def class_counts(self, num_classes: int) -> list[int]:
        return torch.bincount(self.labels, minlength=num_classes).tolist()


@dataclass
class DatasetSplits:
    """Everything `load_dataset` returns. `test` is the official test split (empty when the
    source has none); `val` is held out of train (or the source's own val split)."""

    name: str
    train: ImageSplit
    val: ImageSplit
    test: ImageSplit
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str
    cache_path: str
    skipped: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def nbytes(self) -> int:
        return self.train.nbytes + self.val.nbytes + self.test.nbytes

    @property
    def device(self) -> torch.device:
        return self.train.images.device

    def to(self, device: torch.device | str) -> DatasetSplits:
        """The same dataset with every split's tensors on `device` (statistics and names unchanged)."""
        return replace(self, train=self.train.to(device), val=self.val.to(device), test=self.test.to(device))

    @property
    def image_size(self) -> tuple[int, int]:
        """Native (h, w) of the stored images."""
        return int(self.train.images.shape[2]), int(self.train.images.shape[3])

    def summary(self) -> dict:
        return {
            "name": self.name, "source": self.source, "classes": self.num_classes,
            "image_size": list(self.image_size), "train": len(self.train), "val": len(self.val),
            "test": len(self.test), "mean": [round(v, 4) for v in self.mean],
            "std": [round(v, 4) for v in self.std], "skipped": len(self.skipped), "cache": self.cache_path,
        }
