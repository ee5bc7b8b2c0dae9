"""scikit-learn's built-in 8 x 8 digits: a real dataset with zero set-up, for fast tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from natv2.data.raw import RawDataset, RawSplit
from natv2.data.registry import register
from natv2.data.sources.base import DatasetSource, SourcePlan
from natv2.data.stratify import stratified_holdout

# The digits set has no official test split; this fixed one never depends on data.split_seed.
TEST_FRACTION = 0.2
TEST_SEED = 20240601


@register
class DigitsSource(DatasetSource):
    """1,797 greyscale 8 x 8 images, 10 classes; 16 grey levels scaled to 0..255."""

    name = "digits"
    needs_files = False
    how_to_get = "bundled with scikit-learn"

    @classmethod
    def builtin_location(cls) -> str:
        return "scikit-learn (sklearn.datasets.load_digits)"

    @classmethod
    def match(cls, path: Path) -> Path | None:
        return path

    def locate(self) -> Path:
        return Path(self.builtin_location())

    def plan(self, root: Path) -> SourcePlan:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)[:, None]
        labels = bunch.target.astype(np.int64)
        digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()

        def decode() -> RawDataset:
            n_test = int(round(TEST_FRACTION * len(labels)))
            train_idx, test_idx = stratified_holdout(labels, n_test, TEST_SEED)
            splits = {
                "train": RawSplit(images[train_idx], labels[train_idx]),
                "test": RawSplit(images[test_idx], labels[test_idx]),
            }
            return RawDataset(splits=splits, classes=[str(i) for i in range(10)],
                              description="digits (scikit-learn, 8x8 greyscale; fixed 20% test split)")

        return SourcePlan(key_material={"kind": "sklearn-digits", "sha256": digest}, decode=decode,
                          location=self.builtin_location())
