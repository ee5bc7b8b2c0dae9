"""The metadata every exported model carries (inside each file and as meta.json beside them).

One builder, so the safetensors, TorchScript and ONNX files and the JSON beside them agree.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Mapping

import torch

SCHEMA = "natv2.model/1"
TRANSFER_SOURCE_KEY = "transfer_source"  # a transfer run's models: the source supernet they came from


def natv2_version() -> str:
    from natv2 import __version__

    return __version__


def model_metadata(
    *,
    name: str,
    subnet: Mapping[str, Any],
    supernet: str,
    n_classes: int,
    resolution: int,
    variant: str,
    outputs: list[str],
    params: int,
    macs: int,
    accuracy: Mapping[str, Any] | None,
    latency: Mapping[str, Any] | None,
    source: Mapping[str, Any],
    exits: list[int] | None = None,
    exit_output_weights: list[float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A JSON-ready description of one exported model.

    accuracy: {"top1": float, "split": "test"|"val", "stage": "finetuned"|"inherited", ...}.
    latency: natv2.measure's result as a dict (median, spread, device, batch size, threads).
    source: where it came from: {"run_dir", "run_id", "iteration", "weights": "finetuned"|"inherited"}.
    """
    meta: dict[str, Any] = {
        "schema": SCHEMA,
        "name": name,
        "natv2_version": natv2_version(),
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "supernet": supernet,
        "n_classes": int(n_classes),
        "config": dict(subnet),
        "resolution": int(resolution),
        "input": {"name": "input", "shape": ["batch", 3, int(resolution), int(resolution)], "dtype": "float32",
                  "layout": "NCHW"},
        "variant": variant,
        "outputs": list(outputs),
        "params": int(params),
        "macs": int(macs),
        "accuracy": dict(accuracy) if accuracy is not None else None,
        "latency": dict(latency) if latency is not None else None,
        "source": dict(source),
    }
    if exits is not None:
        meta["exits"] = [int(e) for e in exits]
        meta["exit_output_weights"] = [float(b) for b in (exit_output_weights or [])]
    if extra:
        meta.update(extra)
    return meta
