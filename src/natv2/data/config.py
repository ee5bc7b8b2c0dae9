"""The `data` section of a natv2 config.

A plain dataclass with no torch import, so the config layer can load, validate and print it
cheaply. Everything that reads images lives next to it in `natv2.data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from natv2.config.fields import key_help
from natv2.errors import ConfigError

_MD5 = re.compile(r"[0-9a-fA-F]{32}")


@dataclass
class DataConfig:
    """Which dataset, where it lives, how it is split, augmented and batched (`natv2 config keys`
    prints each key's help)."""

    name: str = field(default="cifar10", metadata=key_help(
        "a registered dataset (natv2 datasets lists them): cifar10, cifar100, fashion-mnist, tiny-imagenet, "
        "imagefolder, digits"))
    root: str | None = field(default=None, metadata=key_help(
        "the dataset's folder; null: $NATV2_DATA/<name>, ./data/<name>, then the cache (natv2 datasets shows where)"))
    cache_dir: str | None = field(default=None, metadata=key_help(
        "where decoded arrays are kept; null: $NATV2_CACHE, else ~/.cache/natv2"))
    download: bool = field(default=False, metadata=key_help(
        "fetch the official files (checksum-verified) when the dataset is not found"))
    download_url: str | None = field(default=None, metadata=key_help(
        "a mirror to fetch from instead of the official address (file:// works too)"))
    download_md5: str | None = field(default=None, metadata=key_help(
        "md5 of the archive data.download_url serves, when that mirror holds another file than the official "
        "one (e.g. a local copy); null: the official archive's checksum. Single-archive datasets (cifar10, "
        "cifar100, tiny-imagenet)"))
    val_size: float | int = field(default=5000, metadata=key_help(
        "validation images held out of train, stratified: an integer counts images, a float in (0, 1) is a "
        "fraction of train; ignored when the source ships its own val split"))
    split_seed: int = field(default=0, metadata=key_help("seed of the validation hold-out and of train_subset"))
    train_subset: int | None = field(default=None, metadata=key_help(
        "keep only this many (stratified) training images after the hold-out; null: all"))
    augment: Literal["pad_crop", "random_resized_crop", "none"] = field(default="pad_crop", metadata=key_help(
        "training crop: CIFAR-style pad-and-crop, Inception-style random-resized-crop, or none"))
    crop_scale_min: float = field(default=0.35, metadata=key_help(
        "lower end of the random-resized-crop area scale (the upper end is 1)"))
    pad: int = field(default=4, metadata=key_help("padding in pixels (at native size) of pad_crop"))
    hflip: bool = field(default=True, metadata=key_help("random horizontal flips while training"))
    eval_resize: Literal["auto", "resize", "resize_center_crop"] = field(default="auto", metadata=key_help(
        "how evaluation images reach resolution r: resize; resize_center_crop (resize to ceil(r / "
        "eval_crop_ratio), centre-crop r); auto: centre-crop only when the images are larger than 64 px"))
    eval_crop_ratio: float = field(default=0.875, metadata=key_help("the crop ratio of resize_center_crop (OFA: 0.875)"))
    image_size: int | None = field(default=None, metadata=key_help(
        "imagefolder only: the size every image is resized to; null: the most common size in the data"))
    skip_bad_images: bool = field(default=False, metadata=key_help(
        "skip (and count) unreadable images instead of stopping with an error"))
    decode_workers: int = field(default=2, metadata=key_help(
        "processes for the one-time decode of image files into the cache"))
    batch_size: int = field(default=64, metadata=key_help("training batch size per process"))
    eval_batch_size: int = field(default=500, metadata=key_help("evaluation batch size per process"))
    calib_size: int = field(default=960, metadata=key_help("training images in the fixed BN re-calibration subset"))
    calib_batch_size: int = field(default=100, metadata=key_help("batch size of BN re-calibration"))
    on_device: Literal["auto", "off"] = field(default="auto", metadata=key_help(
        "auto: keep the decoded splits in the accelerator's memory when the run uses one and they take under a "
        "quarter of its free memory (augmentation then runs there); off: host memory, each batch copied"))

    def __post_init__(self) -> None:
        md5 = self.download_md5
        if md5 is None:
            return
        if not _MD5.fullmatch(md5):
            raise ConfigError(f"data.download_md5={md5!r} is not an md5 checksum (32 hexadecimal digits)",
                              "give the mirror's archive checksum as `md5sum` prints it, or null for the official one")
        self.download_md5 = md5.lower()  # as natv2.data.download computes it
