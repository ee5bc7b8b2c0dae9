"""Decoded datasets as plain numpy arrays: what a source produces and what the cache stores."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from natv2.errors import DataError

SPLIT_NAMES = ("train", "val", "test")


class LabelRangeError(DataError, ValueError):
    """A split's labels do not fit the dataset's class list (a class-count mismatch between splits)."""


@dataclass
class RawSplit:
    """One split: uint8 images N x C x H x W (C is 1 or 3) and int64 labels N."""

    images: np.ndarray
    labels: np.ndarray

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 N x C x H x W, got {self.images.dtype} {self.images.shape}")
        if self.images.shape[1] not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, got {self.images.shape[1]}")
        self.labels = np.ascontiguousarray(self.labels, dtype=np.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"{self.images.shape[0]} images but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class RawDataset:
    """What a source decodes: its splits ("train", optional "val", "test"), class names,
    a one-line description, and the files it skipped as unreadable (relative paths)."""

    splits: dict[str, RawSplit]
    classes: list[str]
    description: str
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = set(self.splits) - set(SPLIT_NAMES)
        if unknown or "train" not in self.splits:
            raise ValueError(f"splits must include 'train' and be among {SPLIT_NAMES}, got {sorted(self.splits)}")
        for name, split in self.splits.items():
            if len(split) and (split.labels.min() < 0 or split.labels.max() >= len(self.classes)):
                raise LabelRangeError(
                    f"the {name} split has labels {int(split.labels.min())}..{int(split.labels.max())}, outside the "
                    f"{len(self.classes)} classes of the dataset (0..{len(self.classes) - 1})",
                    fix="give every split the same class folders (or the same label range) as train")
