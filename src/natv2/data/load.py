"""`load_dataset`: locate the source, decode it once into the cache, split it, compute stats."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from natv2.data.cache import DecodeCache, cache_root, content_key
from natv2.data.config import DataConfig
from natv2.data.raw import RawDataset, RawSplit
from natv2.data.registry import get_source_class
from natv2.data.splits import DatasetSplits, ImageSplit, channel_stats, resolve_count, stratified_holdout
from natv2.errors import DataError

log = logging.getLogger("natv2.data")

# train_subset draws from a stream separate from the validation hold-out's.
_SUBSET_STREAM = 1


def load_raw(cfg: DataConfig) -> tuple[RawDataset, str]:
    """The decoded dataset and its cache folder: from the cache when the source's content key
    matches an entry, else decoded now and stored."""
    source = get_source_class(cfg.name)(cfg)
    root = source.locate()
    plan = source.plan(root)
    key = content_key(plan.key_material)
    cache = DecodeCache(cache_root(cfg.cache_dir))
    raw = cache.load(cfg.name, key)
    if raw is None:
        t0 = time.perf_counter()
        log.info("decoding %s from %s (first use; cached afterwards)", cfg.name, plan.location)
        raw = plan.decode()
        folder = cache.save(cfg.name, key, raw)
        log.info("decoded %s in %.1f s -> %s", cfg.name, time.perf_counter() - t0, folder)
    if raw.skipped:
        if not cfg.skip_bad_images:
            raise DataError(
                f"{len(raw.skipped)} unreadable image(s) were skipped when this dataset was cached "
                f"(first: {raw.skipped[0]})",
                fix="fix or delete those files (the cache then refreshes), or set data.skip_bad_images=true.",
            )
        log.warning("%s: skipped %d unreadable image(s), e.g. %s", cfg.name, len(raw.skipped), raw.skipped[0])
    return raw, str(cache.entry_dir(cfg.name, key))


def _to_split(raw: RawSplit) -> ImageSplit:
    images = torch.from_numpy(raw.images)
    if images.shape[1] == 1:  # greyscale sources: a 3-channel view, no copy until indexed
        images = images.expand(-1, 3, -1, -1)
    return ImageSplit(images, torch.from_numpy(raw.labels))


def _empty_like(split: ImageSplit) -> ImageSplit:
    return ImageSplit(split.images[:0], split.labels[:0])


StatsFn = Callable[[torch.Tensor, str], "tuple[tuple[float, ...], tuple[float, ...]]"]


def _compute_stats(images: torch.Tensor, tag: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    return channel_stats(images)


def check_classes(raw: RawDataset, name: str) -> None:
    """At least 2 classes, and train images of at least 2 of them (a single class scores 100% on validation).

    Labels outside the class list are refused when the source builds its RawDataset; classes without
    training images are logged (tiny subsets of large datasets can miss some).
    """
    n = len(raw.classes)
    where = f"dataset '{name}' ({raw.description})"
    fix = "point data.root at a folder with at least two class folders (train/<class>/*), or choose another data.name"
    if n < 2:
        raise DataError(f"{where} has {n} class{'' if n == 1 else 'es'} ({', '.join(map(str, raw.classes)) or 'none'}); "
                        "classification needs at least 2, and a single class would score 100% on validation", fix=fix)
    present = np.unique(np.asarray(raw.splits["train"].labels))
    if present.size < 2:
        raise DataError(f"the train split of {where} has images of {present.size} of its {n} classes; "
                        "classification needs at least 2", fix=fix)
    if present.size < n:
        missing = [str(raw.classes[i]) for i in sorted(set(range(n)) - set(present.tolist()))]
        log.warning("the train split of %s has no images of %d of its %d classes (%s%s)", where, len(missing), n,
                    ", ".join(missing[:5]), " ..." if len(missing) > 5 else "")


def split_dataset(raw: RawDataset, cfg: DataConfig, cache_path: str = "", stats: StatsFn = _compute_stats) -> DatasetSplits:
    """Apply the validation hold-out and train_subset of `cfg` to a decoded dataset. `stats`
    gives the training images' channel mean/std; its tag names the exact training subset."""
    check_classes(raw, cfg.name)
    full = _to_split(raw.splits["train"])
    n_val = None
    if "val" in raw.splits:  # the source ships its own validation split
        train, val = full, _to_split(raw.splits["val"])
    else:
        n_val = resolve_count(cfg.val_size, len(full), "data.val_size")
        keep, held = stratified_holdout(raw.splits["train"].labels, n_val, cfg.split_seed)
        train, val = full.subset(keep), full.subset(held)
    if cfg.train_subset is not None:
        n = int(cfg.train_subset)
        if not 0 < n <= len(train):
            raise DataError(
                f"data.train_subset={n} does not fit the {len(train)} training images left after validation",
                fix=f"choose a value between 1 and {len(train)}, or null for all of them.",
            )
        if n < len(train):
            seed = int(np.random.SeedSequence([cfg.split_seed, _SUBSET_STREAM]).generate_state(1)[0])
            _, chosen = stratified_holdout(train.labels.numpy(), n, seed)
            train = train.subset(chosen)
    test = _to_split(raw.splits["test"]) if "test" in raw.splits else _empty_like(full)
    tag = f"val={n_val}/seed={cfg.split_seed}/subset={cfg.train_subset}"
    mean, std = stats(train.images, tag)
    return DatasetSplits(
        name=cfg.name, train=train, val=val, test=test, classes=list(raw.classes), mean=mean, std=std,
        source=raw.description, cache_path=cache_path, skipped=list(raw.skipped),
    )


def load_dataset(cfg: DataConfig) -> DatasetSplits:
    """Train / val / test splits of the dataset `cfg` names, as uint8 tensors in memory.

    Validation is a stratified hold-out of train (data.val_size, data.split_seed) unless the
    source has its own; the official test split is never mixed in. Bad input raises DataError.
    """
    raw, cache_path = load_raw(cfg)
    cache = DecodeCache(cache_root(cfg.cache_dir))

    def cached_stats(images: torch.Tensor, tag: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
        found = cache.load_stats(Path(cache_path), tag)
        if found is None:
            found = channel_stats(images)
            cache.save_stats(Path(cache_path), tag, found)
        return found

    return split_dataset(raw, cfg, cache_path, cached_stats)
