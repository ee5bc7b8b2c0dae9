"""Datasets, the decode-once cache, batched tensor augmentation, splits and BN-calibration subsets.

Typical use:

    splits = load_dataset(DataConfig(name="cifar10"))
    loader = train_loader(splits, cfg, resolutions=[24, 28, 32], seed=0)
    for x, y in loader.batches(epoch): ...

Names are imported lazily (PEP 562) so that `natv2.data.config`, which the config layer reads,
does not pull in torch or Pillow.
"""

from __future__ import annotations

from natv2.lazy import lazy_getattr

_EXPORTS = {
    "DataConfig": "natv2.data.config",
    "load_dataset": "natv2.data.load",
    "load_raw": "natv2.data.load",
    "split_dataset": "natv2.data.load",
    "DatasetSplits": "natv2.data.splits",
    "ImageSplit": "natv2.data.splits",
    "stratified_holdout": "natv2.data.stratify",
    "list_datasets": "natv2.data.discovery",
    "DatasetEntry": "natv2.data.discovery",
    "dataset_names": "natv2.data.registry",
    "DATASETS": "natv2.data.registry",
    "register": "natv2.data.registry",
    "ResolutionSampler": "natv2.data.resolution",
    "TrainTransform": "natv2.data.augment",
    "EvalTransform": "natv2.data.augment",
    "make_train_transform": "natv2.data.augment",
    "make_eval_transform": "natv2.data.augment",
    "TrainLoader": "natv2.data.loaders",
    "EvalLoader": "natv2.data.loaders",
    "CalibrationSampler": "natv2.data.loaders",
    "train_loader": "natv2.data.loaders",
    "eval_loader": "natv2.data.loaders",
    "calibration_sampler": "natv2.data.loaders",
    "seeded_generator": "natv2.data.loaders",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
