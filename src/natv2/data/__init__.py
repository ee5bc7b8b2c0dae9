"""Datasets, the decode-once cache, batched tensor augmentation, splits and BN-calibration subsets.

Typical use:

    splits = load_dataset(DataConfig(name="cifar10"))
    loader = train_loader(splits, cfg, resolutions=[24, 28, 32], seed=0)
    for x, y in loader.batches(epoch): ...

Names are imported lazily (PEP 562) so that `natv2.data.config`, which the config layer reads,
does not pull in torch or Pillow.
"""

from __future__ import annotations

from natv2.lazy import by_module, lazy_getattr

_EXPORTS = by_module({
    "natv2.data.config": "DataConfig",
    "natv2.data.load": "load_dataset load_raw split_dataset",
    "natv2.data.splits": "DatasetSplits ImageSplit",
    "natv2.data.stratify": "stratified_holdout",
    "natv2.data.discovery": "list_datasets DatasetEntry fetch_dataset",
    "natv2.data.registry": "dataset_names DATASETS register",
    "natv2.data.resolution": "ResolutionSampler",
    "natv2.data.augment": "TrainTransform EvalTransform make_train_transform make_eval_transform",
    "natv2.data.loaders": "TrainLoader EvalLoader CalibrationSampler train_loader eval_loader calibration_sampler seeded_generator",
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return __all__
