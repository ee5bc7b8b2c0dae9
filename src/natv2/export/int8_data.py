"""The images INT8 export works with, drawn from a run's dataset: calibration from the training split
only, the recipe chosen on the validation split, the result reported on the test split.

Calibration sets each activation's int8 range, so it is part of training: a test image there would
leak the test split into the model. `calibration_split` draws only from `splits.train` (tested).
All three are fed through the evaluation transform, as deployed models see their inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

CALIBRATION_SPLIT = "train"
CHOICE_SPLIT = "val"
REPORT_SPLIT = "test"


def calibration_split(splits: Any, n: int, seed: int) -> Any:
    """A seeded random subset of `n` training images (all of them when the split is smaller)."""
    train = splits.train
    idx = np.sort(np.random.default_rng(seed).permutation(len(train))[: min(n, len(train))])
    return train.subset(idx)


def stratified_images(split: Any, n: int) -> Any:
    """`n` images of a split (all of them for n = 0), class-stratified, so a class-sorted split is not
    read as its first few classes."""
    if n <= 0:
        return split
    from natv2.data.subset_batches import stratified_rows

    rows = stratified_rows(split.labels.cpu().numpy(), n)
    return split if rows is None else split.subset(rows)


@dataclass
class Int8Data:
    """Batches (N x 3 x r x r float32 arrays, with labels) of the three splits at any resolution."""

    calibration: Any  # ImageSplit
    choice: Any
    report: Any
    transform: Any  # natv2.data's EvalTransform for the dataset
    batch_size: int
    record: dict[str, Any]  # where the images came from, for the model's metadata

    def _batches(self, split: Any, resolution: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        from natv2.data.loaders import EvalLoader

        for x, y in EvalLoader(split, self.transform, int(resolution), self.batch_size):
            yield x.contiguous().numpy(), y.numpy()

    def calibration_batches(self, resolution: int) -> list[np.ndarray]:
        """Equal-sized batches (the histogram calibrators need them): the largest size <= 64 that
        divides the calibration set, so every image is used."""
        images = np.concatenate([x for x, _ in self._batches(self.calibration, resolution)])
        size = next(b for b in range(min(64, len(images)), 0, -1) if len(images) % b == 0)
        return [images[i:i + size] for i in range(0, len(images), size)]

    def choice_batches(self, resolution: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._batches(self.choice, resolution)

    def report_batches(self, resolution: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._batches(self.report, resolution)


def int8_data(splits: Any, data_cfg: Any, export_cfg: Any, seed: int) -> Int8Data:
    """The three image sets of `export_cfg`'s INT8 settings, from a loaded dataset."""
    from natv2.data.augment import make_eval_transform

    calib = calibration_split(splits, export_cfg.int8_calibration_images, seed)
    choice = stratified_images(splits.val, export_cfg.int8_val_images)
    report = splits.test if len(splits.test) else splits.val
    record = {
        "calibration": {"split": CALIBRATION_SPLIT, "images": len(calib), "seed": int(seed),
                        "transform": "evaluation (as deployed)", "method": export_cfg.int8_calibration_method},
        "choice": {"split": CHOICE_SPLIT, "images": len(choice)},
        "report": {"split": REPORT_SPLIT if len(splits.test) else CHOICE_SPLIT, "images": len(report)},
    }
    transform = make_eval_transform(data_cfg, splits.mean, splits.std, splits.image_size)
    return Int8Data(calib, choice, report, transform, int(data_cfg.eval_batch_size), record)


__all__ = ["Int8Data", "calibration_split", "stratified_images", "int8_data"]
