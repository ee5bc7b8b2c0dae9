"""Shared machinery of sources made of image files: class-per-folder scanning, the cache key
from the file list, and decoding all splits in one pass of the process pool."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from natv2.data.config import DataConfig
from natv2.data.images import decode_files, file_signature, is_image_file, list_images, most_common_size
from natv2.data.raw import RawDataset, RawSplit
from natv2.errors import DataError


@dataclass
class FileListing:
    """Image files per split with their labels, and the class names."""

    root: Path
    classes: list[str]
    files: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, list[int]] = field(default_factory=dict)

    def key_material(self, kind: str, size: tuple[int, int] | None) -> dict:
        return {
            "kind": kind,
            "size": list(size) if size else "most-common",
            "classes": self.classes,
            "files": {s: file_signature(p, self.root) for s, p in self.files.items()},
            "labels": self.labels,
        }


def class_dirs(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def scan_class_tree(listing: FileListing, split: str, split_dir: Path, *, define_classes: bool) -> None:
    """Add `split_dir/<class>/**/image` files to `listing`. The split that defines the classes
    (train) must have a non-empty folder per class; the others may only use known classes."""
    if not split_dir.is_dir():
        raise DataError(f"missing folder {split_dir}", fix=f"create {split_dir} with one sub-folder per class.")
    dirs = class_dirs(split_dir)
    if not dirs:
        loose = [f for f in os.listdir(split_dir) if is_image_file(f)]
        what = f"{len(loose)} images lie directly in it" if loose else "it is empty"
        raise DataError(
            f"no class folders in {split_dir} ({what})",
            fix=f"put the images of each class in their own sub-folder: {split_dir}/<class>/<image>.",
        )
    if define_classes:
        listing.classes = [d.name for d in dirs]
    index = {c: i for i, c in enumerate(listing.classes)}
    files: list[str] = []
    labels: list[int] = []
    for d in dirs:
        if d.name not in index:
            raise DataError(
                f"class folder {d} has no counterpart in train/ (classes: {', '.join(listing.classes[:10])}"
                f"{', ...' if len(listing.classes) > 10 else ''})",
                fix=f"rename or remove {d}, or add the class to train/.",
            )
        imgs = list_images(d)
        if not imgs and define_classes:
            raise DataError(
                f"class folder {d} contains no images",
                fix=f"add images to {d} or remove the folder (the class count comes from the folders).",
            )
        files += imgs
        labels += [index[d.name]] * len(imgs)
    listing.files[split] = files
    listing.labels[split] = labels


def decode_listing(
    listing: FileListing, size: tuple[int, int] | None, cfg: DataConfig, description: str
) -> RawDataset:
    """Decode every split of `listing` at `size` (None: the most common size among all files)
    in one pool run; bad files abort, or are skipped and listed when cfg.skip_bad_images."""
    order = [s for s in ("train", "val", "test") if s in listing.files]
    all_files = [p for s in order for p in listing.files[s]]
    all_labels = np.asarray([l for s in order for l in listing.labels[s]], dtype=np.int64)
    if not all_files:
        raise DataError(f"no image files under {listing.root}", fix="check data.root.")
    if size is None:
        size = most_common_size(all_files, cfg.decode_workers)
    dec = decode_files(all_files, size, workers=cfg.decode_workers, skip_bad=cfg.skip_bad_images)
    splits: dict[str, RawSplit] = {}
    bounds = np.cumsum([0] + [len(listing.files[s]) for s in order])
    for s, lo, hi in zip(order, bounds[:-1], bounds[1:]):
        sel = (dec.kept >= lo) & (dec.kept < hi)
        splits[s] = RawSplit(dec.images[sel], all_labels[dec.kept[sel]])
    if len(splits["train"]) == 0:
        raise DataError(f"no readable training images under {listing.root}", fix="check the image files.")
    skipped = [os.path.relpath(p, listing.root).replace(os.sep, "/") for p, _ in dec.bad]
    return RawDataset(splits=splits, classes=listing.classes, description=description, skipped=skipped)
