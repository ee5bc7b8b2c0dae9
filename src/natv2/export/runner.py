"""Export the models of a run: every fine-tuned job folder under `<run>/models/`, or inherited subnets.

For each model: measure latency (natv2.measure), build its metadata, write and verify every
format (natv2.export.exporter), and list it in `<run>/models/export.json`. A folder whose
meta.json already lists every requested format is skipped, so the stage resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from natv2.errors import RunDirError
from natv2.export.bundle import load_model
from natv2.export.config import ExportConfig
from natv2.export.exporter import META_FILE, ExportRecord, export_model, output_names
from natv2.export.metadata import model_metadata
from natv2.io.atomic import read_json

from natv2.export.int8_data import Int8Data
from natv2.export.quantized import export_int8, int8_done
from natv2.export.record import ExportedModel, ExportSummary
from natv2.finetune.result import FineTuneResult
from natv2.io.artifacts import FINETUNED_STEM


def measure(model: nn.Module, resolution: int, cfg: ExportConfig) -> dict[str, Any] | None:
    """Latency of the model as exported (median over timed runs), with device, batch and threads."""
    if not cfg.latency:
        return None
    from natv2.measure.latency import measure_latency

    result = measure_latency(model, resolution, batch_size=cfg.latency_batch_size, threads=cfg.latency_threads,
                             device=cfg.latency_device, warmup=cfg.latency_warmup, runs=cfg.latency_runs)
    return result.to_dict()


def finetuned_jobs(models_dir: Path) -> list[Path]:
    """Job folders the finetune stage finished, in name order."""
    return FineTuneResult.folders(models_dir)


def _done(folder: Path, cfg: ExportConfig) -> bool:
    """Every requested format is there (and, for an INT8 export, the float ONNX file is one it can quantize)."""
    meta = folder / META_FILE
    if not meta.is_file():
        return False
    files = read_json(meta).get("files", {})
    if cfg.int8 and "onnx" in files and not int8_done(folder):
        from natv2.runtime.int8 import quantizable_graph

        if not quantizable_graph(folder / files["onnx"]):
            return False  # written by an earlier natv2: exported again before it is quantized
    return all(f in files for f in cfg.formats)


InputsFor = Callable[[int], "torch.Tensor | None"]


def export_finetuned(models_dir: str | Path, cfg: ExportConfig, source: Mapping[str, Any],
                     log: Callable[[str], None] | None = None, inputs_for: InputsFor | None = None,
                     extra: Mapping[str, Any] | None = None, int8_data: Int8Data | None = None) -> ExportSummary:
    """Export every fine-tuned model under `models_dir` (written by `natv2 finetune`).

    `inputs_for(resolution)`: real images for the parity checks (None: random inputs).
    `extra`: metadata every model gets (the dataset's preprocessing and class names).
    `int8_data`: the images of the INT8 export (needed when cfg.int8).
    """
    log = log or (lambda msg: None)
    root = Path(models_dir)
    jobs = finetuned_jobs(root)
    if not jobs:
        raise RunDirError(f"no fine-tuned models under '{root}'",
                          "run `natv2 finetune` first, or export inherited subnets with --set export.source=inherited")
    records = []
    for i, folder in enumerate(jobs, start=1):
        result = FineTuneResult.read(folder)
        if _done(folder, cfg):
            log(f"[{i}/{len(jobs)}] {folder.name}: already exported, skipped")
            _quantize(folder, cfg, int8_data, log)
            records.append(_summary(folder))
            continue
        log(f"[{i}/{len(jobs)}] {folder.name}: exporting {', '.join(cfg.formats)}")
        model = load_model(folder / FINETUNED_STEM)
        test, before = result.test_after, result.test_before
        accuracy = None if test is None else {
            "top1": test["top1"], "split": "test", "n": test.get("n"), "weights": "finetuned",
            "before_finetune": (before or {}).get("top1"),
            "note": "test split measured once, after fine-tuning; E* chosen on the validation split",
        }
        meta = model_metadata(
            name=folder.name, subnet=result.subnet, supernet=result.supernet or "", n_classes=result.n_classes,
            resolution=result.resolution, variant=result.variant, outputs=list(output_names(model)),
            params=result.params, macs=result.macs, accuracy=accuracy,
            latency=measure(model, result.resolution, cfg),
            source={**dict(source), "iteration": result.search_iteration, "weights": "finetuned", "e_star": result.e_star},
            exits=result.exits, exit_output_weights=result.exit_output_weights,
            extra=extra,
        )
        inputs = inputs_for(result.resolution) if inputs_for else None
        record = export_model(model, folder, meta, cfg, inputs=inputs)
        log(f"    parity (max abs diff): {record.max_abs_diff:.2e}")
        _quantize(folder, cfg, int8_data, log)
        records.append(_summary(folder))
    return write_summary(root, cfg, records)


def export_inherited(models_dir: str | Path, cfg: ExportConfig, items: Sequence[tuple[str, nn.Module, Mapping[str, Any]]],
                     log: Callable[[str], None] | None = None, inputs_for: InputsFor | None = None,
                     extra: Mapping[str, Any] | None = None, int8_data: Int8Data | None = None) -> ExportSummary:
    """Export ready-built models (e.g. inherited subnets, BN recalibrated): (name, model, metadata) each.

    `extra`: metadata every model gets (the dataset's preprocessing and class names).
    `int8_data`: the images of the INT8 export (needed when cfg.int8).
    """
    log = log or (lambda msg: None)
    root = Path(models_dir)
    records = []
    for i, (name, model, meta) in enumerate(items, start=1):
        folder = root / name
        if _done(folder, cfg):
            log(f"[{i}/{len(items)}] {name}: already exported, skipped")
        else:
            log(f"[{i}/{len(items)}] {name}: exporting {', '.join(cfg.formats)}")
            full = {**meta, **dict(extra or {}), "latency": measure(model, int(meta["resolution"]), cfg)}
            export_model(model, folder, full, cfg, inputs=inputs_for(int(meta["resolution"])) if inputs_for else None)
        _quantize(folder, cfg, int8_data, log)
        records.append(_summary(folder))
    return write_summary(root, cfg, records)


def _quantize(folder: Path, cfg: ExportConfig, data: Int8Data | None, log: Callable[[str], None]) -> None:
    """The folder's INT8 model when the config asks for one and it is not there yet."""
    if not cfg.int8 or int8_done(folder):
        return
    if data is None:
        raise RunDirError(f"export.int8 needs the run's dataset to calibrate {folder.name}, and none was given",
                          "export where the run's dataset is available")
    log(f"    quantizing to int8 ({cfg.int8_calibration_method} calibration on training images)")
    export_int8(folder, cfg, data, log)


def write_summary(root: Path, cfg: ExportConfig, records: list[ExportedModel]) -> ExportSummary:
    """`<models>/export.json`: the models this call exported, then any others exported earlier; returns
    this call's models."""
    names = {r.folder for r in records}
    earlier = [_summary(p.parent) for p in sorted(root.glob(f"*/{META_FILE}")) if p.parent.name not in names]
    ExportSummary(records + earlier, cfg.tolerance).write(root)
    return ExportSummary(records, cfg.tolerance)


def _summary(folder: Path) -> ExportedModel:
    """The folder's line of export.json, from the meta.json its export wrote."""
    return ExportedModel.from_meta(folder.name, read_json(folder / META_FILE))


__all__ = ["ExportRecord", "export_finetuned", "export_inherited", "finetuned_jobs", "measure"]
