"""An INT8 ONNX model beside an exported float one: quantize two ways, keep the better, measure the cost.

For one exported folder (its float ONNX file and meta.json):
1. quantize the float file twice with onnxruntime's static QDQ tooling, weights per channel and per
   tensor, activation ranges calibrated on training images (`Int8Data`);
2. keep the one with the better top-1 on validation images (a tie keeps per-channel);
3. measure top-1 of the float and the INT8 file on the test split, with the same pipeline, and how
   often their top classes agree;
4. time both files in onnxruntime at each batch size of `export.int8_latency_batches`, round-robin;
5. write `model.int8.onnx` (carrying the natv2 metadata plus this record, so `natv2 predict` needs
   nothing else) and add the record to meta.json last: its presence means the INT8 export finished.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from natv2.export.bundle import STEM
from natv2.export.config import ExportConfig
from natv2.export.int8_data import Int8Data
from natv2.export.record import INT8_KEY
from natv2.io.artifacts import EXPORT_META as META_FILE
from natv2.io.atomic import atomic_write_json, read_json
from natv2.runtime.int8 import INT8_SUFFIX, QuantRecipe, operator_census, quantize_int8

WORK_DIR = ".int8-work"  # candidates while they are compared; removed after (and before a retry)


def int8_done(folder: Path) -> bool:
    """Whether the folder holds a finished INT8 export (its record in meta.json and its file)."""
    meta = folder / META_FILE
    if not meta.is_file():
        return False
    data = read_json(meta)
    return INT8_KEY in data and (folder / str(data.get("files", {}).get(INT8_KEY, ""))).is_file()


def predictions(path: Path, batches: Iterable[tuple[np.ndarray, np.ndarray]], output: str) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 class per image of an ONNX file (onnxruntime, all threads) and the labels, over `batches`."""
    from natv2.runtime.onnx_file import INPUT_NAME, open_session

    session = open_session(path, threads=0)
    index = [o.name for o in session.get_outputs()].index(output)
    preds, labels = [], []
    for x, y in batches:
        preds.append(np.argmax(session.run(None, {INPUT_NAME: x})[index], axis=1))
        labels.append(y)
    return np.concatenate(preds), np.concatenate(labels)


def _top1(pred: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(pred == labels)) if len(labels) else float("nan")


def choose_recipe(float_path: Path, work: Path, data: Int8Data, resolution: int, method: str,
                  output: str) -> tuple[Path, QuantRecipe, dict[str, float]]:
    """Quantize with per-channel and per-tensor weight scales; the file with the better validation top-1."""
    calibration = data.calibration_batches(resolution)
    scored: list[tuple[float, bool, Path, QuantRecipe]] = []
    for recipe in (QuantRecipe(True, method), QuantRecipe(False, method)):
        path = quantize_int8(float_path, work / f"{recipe.name}.onnx", calibration, recipe)
        top1 = _top1(*predictions(path, data.choice_batches(resolution), output))
        scored.append((top1, recipe.per_channel, path, recipe))
    top1, _, path, recipe = max(scored, key=lambda s: (s[0], s[1]))
    return path, recipe, {s[3].name: s[0] for s in scored}


def compare_accuracy(float_path: Path, int8_path: Path, data: Int8Data, resolution: int, output: str) -> dict[str, Any]:
    """Top-1 of both files on the report split, and the share of images where their top classes agree."""
    f_pred, labels = predictions(float_path, data.report_batches(resolution), output)
    q_pred, _ = predictions(int8_path, data.report_batches(resolution), output)
    return {"split": data.record["report"]["split"], "n": int(len(labels)), "top1_float": _top1(f_pred, labels),
            "top1_int8": _top1(q_pred, labels), "agreement": _top1(f_pred, q_pred)}


def compare_latency(float_path: Path, int8_path: Path, resolution: int, cfg: ExportConfig) -> dict[str, Any]:
    """Median latency (ms) of both files per batch size, measured round-robin on this CPU."""
    from natv2.measure.latency import cpu_flags, device_name, has_vnni
    from natv2.measure.onnx_latency import measure_onnx_latencies
    from natv2.runtime.onnx_file import onnxruntime_version

    ms: dict[str, dict[str, float]] = {"float": {}, "int8": {}}
    for b in cfg.int8_latency_batches:
        f, q = measure_onnx_latencies([float_path, int8_path], resolution, batch_size=b, threads=cfg.latency_threads,
                                      warmup=cfg.latency_warmup, runs=cfg.latency_runs)
        ms["float"][str(b)], ms["int8"][str(b)] = f.median_ms, q.median_ms
    flags = cpu_flags()
    return {"ms": ms, "speedup": {b: ms["float"][b] / ms["int8"][b] for b in ms["float"]},
            "statistic": "median", "runs": cfg.latency_runs, "threads": cfg.latency_threads,
            "runtime": f"onnxruntime {onnxruntime_version()}", "cpu": device_name("cpu"), "cpu_flags": flags,
            "vnni": has_vnni(flags)}


def export_int8(folder: Path, cfg: ExportConfig, data: Int8Data, log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Write `folder`'s INT8 ONNX model and add its record to meta.json; returns the record."""
    from natv2.runtime.onnx_file import copy_with_metadata, open_session, session_metadata

    meta = read_json(folder / META_FILE)
    float_path, resolution = folder / meta["files"]["onnx"], int(meta["resolution"])
    output = "logits" if "logits" in meta.get("outputs", ["logits"]) else meta["outputs"][-1]
    work = folder / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        chosen, recipe, choice = choose_recipe(float_path, work, data, resolution, cfg.int8_calibration_method, output)
        record = {"file": f"{STEM}{INT8_SUFFIX}", "quantization": recipe.describe(), "weights": recipe.name,
                  "choice_top1": choice, **data.record, "operators": operator_census(chosen),
                  "accuracy": compare_accuracy(float_path, chosen, data, resolution, output),
                  "latency": compare_latency(float_path, chosen, resolution, cfg)}
        embedded = {**(session_metadata(open_session(float_path)) or {}), "precision": "int8", INT8_KEY: record}
        copy_with_metadata(chosen, folder / record["file"], embedded)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    atomic_write_json(folder / META_FILE, {**meta, "files": {**meta["files"], INT8_KEY: record["file"]}, INT8_KEY: record})
    acc, lat = record["accuracy"], record["latency"]
    log(f"    int8 ({recipe.name} weights): {acc['split']} top-1 {100 * acc['top1_float']:.2f}% float -> "
        f"{100 * acc['top1_int8']:.2f}% int8; speed-up " + ", ".join(f"{v:.2f}x at batch {b}" for b, v in lat["speedup"].items()))
    if all(v < 1 for v in lat["speedup"].values()):
        log(f"    on this CPU the float file is faster at every batch size measured: deploy {float_path.name}, not the INT8 one")
    return record


__all__ = ["INT8_KEY", "export_int8", "int8_done"]
