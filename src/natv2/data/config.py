"""The `data` section of a natv2 config.

A plain dataclass with no torch import, so the config layer can load, validate and print it
cheaply. Everything that reads images lives next to it in `natv2.data`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class DataConfig:
    """Which dataset, where it lives, how it is split, augmented and batched.

    name: a registered dataset (`natv2 datasets` lists them): cifar10, cifar100, fashion-mnist,
        tiny-imagenet, imagefolder, digits.
    root: the dataset's folder; None searches the usual places (see natv2.data.discovery).
    cache_dir: where decoded arrays are kept; None uses $NATV2_CACHE, else ~/.cache/natv2.
    download: fetch the official files (checksum-verified) when the dataset is not found.
    download_url: a mirror to fetch from instead of the official address (file:// works too).
    val_size: validation images held out of train, stratified; an int counts images, a float in
        (0, 1) is a fraction of train. Ignored when the source ships its own val split.
    split_seed: seed of the validation hold-out and of `train_subset`.
    train_subset: keep only this many (stratified) training images after the hold-out.
    augment: training crop strategy: CIFAR-style pad-and-crop, random-resized-crop or none.
    crop_scale_min: lower end of the random-resized-crop area scale (upper end is 1).
    pad: padding (pixels at native size) of pad-and-crop.
    hflip: random horizontal flips while training.
    eval_resize: how eval images reach resolution r: "resize", "resize_center_crop" (resize to
        ceil(r / eval_crop_ratio), then centre crop r), or "auto" (centre crop only when the
        native images are larger than 64 px, i.e. at ImageNet scale).
    eval_crop_ratio: the crop ratio of resize_center_crop (0.875 in OFA).
    image_size: imagefolder only: the common size every image is resized to; None takes the
        most common size in the data.
    skip_bad_images: skip (and count) unreadable images instead of stopping with an error.
    decode_workers: processes for the one-time decode of image files into the cache.
    batch_size, eval_batch_size: training and evaluation batch sizes (per rank).
    calib_size, calib_batch_size: BN-recalibration subset size and its batch size.
    on_device: "auto" keeps the decoded splits in the accelerator's memory when the run uses one
        and they take under a quarter of its free memory (augmentation then runs there); "off"
        keeps them in host memory and copies each augmented batch.
    """

    name: str = "cifar10"
    root: str | None = None
    cache_dir: str | None = None
    download: bool = False
    download_url: str | None = None
    val_size: float | int = 5000
    split_seed: int = 0
    train_subset: int | None = None
    augment: Literal["pad_crop", "random_resized_crop", "none"] = "pad_crop"
    crop_scale_min: float = 0.35
    pad: int = 4
    hflip: bool = True
    eval_resize: Literal["auto", "resize", "resize_center_crop"] = "auto"
    eval_crop_ratio: float = 0.875
    image_size: int | None = None
    skip_bad_images: bool = False
    decode_workers: int = 2
    batch_size: int = 64
    eval_batch_size: int = 500
    calib_size: int = 960
    calib_batch_size: int = 100
    on_device: Literal["auto", "off"] = "auto"
