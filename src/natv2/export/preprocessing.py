"""The input pipeline an exported model expects, as data in its metadata (`meta["preprocessing"]`).

The mean/std are computed per dataset and the resize mode depends on the images' size, so a
model file alone does not say how to feed it. Export writes this record (with the class names);
`transform_from` rebuilds natv2.data's own evaluation transform from it, so `natv2 predict` (or any
runtime) reproduces what validation did, with nothing but the model's files.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from natv2.errors import CheckpointError

PREPROCESSING_VERSION = 1
KEY = "preprocessing"
CLASSES_KEY = "classes"


def preprocessing_record(data_cfg: Any, mean: Sequence[float], std: Sequence[float],
                         native_size: tuple[int, int]) -> dict[str, Any]:
    """What validation did to an image, from the data config and the training split's statistics."""
    from natv2.data.augment import eval_mode

    return {
        "version": PREPROCESSING_VERSION,
        "channel_order": "RGB",
        "layout": "NCHW",
        "value_range": [0, 255],
        "scale": 1 / 255,
        "mean": [float(m) for m in mean],
        "std": [float(s) for s in std],
        "resize": eval_mode(data_cfg, native_size),
        "crop_ratio": float(data_cfg.eval_crop_ratio),
        "interpolation": "triangle filter (bilinear; antialiased when shrinking)",
        "alpha": "composited onto black",
        "greyscale": "replicated to 3 channels",
        "native_size": [int(native_size[0]), int(native_size[1])],
        "formula": "x = (pixel / 255 - mean) / std per RGB channel, after resizing to resolution x resolution",
    }


def dataset_metadata(data_cfg: Any, splits: Any) -> dict[str, Any]:
    """The metadata entries an exported model gets from its dataset: preprocessing and class names."""
    return {KEY: preprocessing_record(data_cfg, splits.mean, splits.std, splits.image_size),
            CLASSES_KEY: [str(c) for c in splits.classes]}


def require(meta: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """The preprocessing record of `meta`, or a CheckpointError saying how to get one."""
    rec = meta.get(KEY)
    if not isinstance(rec, Mapping) or "mean" not in rec or "resize" not in rec:
        raise CheckpointError(
            f"{where} carries no input preprocessing in its metadata (exported before natv2 recorded it, "
            "or its dataset was not available at export time)",
            "export it again where the run's dataset is available: natv2 export RUN --force")
    if int(rec.get("version", 0)) > PREPROCESSING_VERSION:
        raise CheckpointError(f"{where} uses preprocessing version {rec.get('version')}, newer than this natv2 reads",
                              "upgrade natv2")
    return rec


def transform_from(rec: Mapping[str, Any]) -> Any:
    """natv2.data's EvalTransform for the record (the very code validation ran)."""
    from natv2.data.augment import EVAL_RESIZES, EvalTransform
    from natv2.data.config import DataConfig

    cfg = DataConfig(eval_crop_ratio=float(rec.get("crop_ratio", 0.875)))
    try:
        strategy = EVAL_RESIZES[rec["resize"]](cfg)
    except KeyError:
        raise CheckpointError(f"unknown resize mode {rec['resize']!r} in the model's preprocessing",
                              "load it with the natv2 version that exported it") from None
    return EvalTransform(strategy, rec["mean"], rec["std"])


__all__ = ["dataset_metadata", "preprocessing_record", "require", "transform_from"]
