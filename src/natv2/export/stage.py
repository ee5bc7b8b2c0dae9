"""The `export` stage over a run directory: every fine-tuned model (or the chosen subnets with
inherited weights) into safetensors + JSON, TorchScript and ONNX, verified. Used by `natv2 export`
and `natv2 run`."""

from __future__ import annotations

from typing import Any, Callable

from natv2.export.metadata import TRANSFER_SOURCE_KEY
from natv2.export.record import ExportSummary
from natv2.stage import Outcome, StageContext

STAGE = "export"


def _inherited_items(run: Any, config: Any, splits: Any = None) -> list[tuple[str, Any, dict]]:
    """The chosen subnets with supernet weights, BN recalibrated on the calibration subset of `splits`
    (the run's dataset, loaded here when the caller has not)."""
    from natv2.data import load_dataset
    from natv2.data.loaders import calibration_sampler
    from natv2.export.metadata import model_metadata
    from natv2.finetune.build import builder
    from natv2.finetune.costs import subnet_cost
    from natv2.finetune.selection import select_subnets
    from natv2.finetune.sources import load_final_supernet
    from natv2.supernets import recalibrate_bn

    ft = config.finetune
    cands = select_subnets(ft.select, run.path, ft.archive, ft.names, ft.max_subnets)
    supernet, stem = load_final_supernet(run.path, ft.supernet)
    splits = splits if splits is not None else load_dataset(config.data)
    calib = calibration_sampler(splits, config.data, seed=config.run.seed)
    items = []
    for c in cands:
        model = recalibrate_bn(builder(supernet, c.config, "single")(), list(calib.batches(c.config.r)), inplace=True).eval()
        cost = subnet_cost(supernet.name, supernet.n_classes, c.config)
        acc = None if c.accuracy is None else {"top1": c.accuracy, "split": "val", "weights": "inherited",
                                               "note": "accuracy recorded by the search (validation split)"}
        meta = model_metadata(
            name=c.name, subnet=c.config.to_dict(), supernet=supernet.name, n_classes=supernet.n_classes,
            resolution=c.config.r, variant="single", outputs=["logits"], params=cost.params, macs=cost.macs,
            accuracy=acc, latency=None,
            source={"run_dir": str(run.path), "run_id": run.path.name, "iteration": c.iteration, "weights": "inherited",
                    "supernet_checkpoint": str(stem)},
        )
        items.append((c.name + "-inherited", model, meta))
    return items


def _splits_or_none(config: Any, log: Callable[[str], None]) -> Any:
    """The run's dataset, or None (logged) when it cannot be loaded here."""
    from natv2.data import load_dataset
    from natv2.errors import DataError

    try:
        return load_dataset(config.data)
    except DataError as err:
        log(f"export: parity checks use random inputs and the models carry no preprocessing "
            f"(the run's data is not available here: {err.problem})")
        return None


def parity_inputs(config: Any, n: int, log: Callable[[str], None], splits: Any = None) -> Callable[[int], Any] | None:
    """The first `n` validation images at a given resolution, for parity checks on real inputs.

    Falls back to random inputs (None) when the run's data cannot be loaded here.
    """
    import numpy as np

    from natv2.data.augment import make_eval_transform
    from natv2.data.loaders import EvalLoader

    splits = splits if splits is not None else _splits_or_none(config, log)
    if splits is None:
        return None
    which = "val" if len(splits.val) >= n else "test"
    if len(getattr(splits, which)) < n:
        return None

    subset = getattr(splits, which).subset(np.arange(n))
    transform = make_eval_transform(config.data, splits.mean, splits.std, splits.image_size)

    def inputs_for(resolution: int) -> Any:
        x, _ = next(iter(EvalLoader(subset, transform, int(resolution), n)))
        return x.contiguous()

    return inputs_for


def run_export_stage(run: Any, config: Any, log: Callable[[str], None] = print) -> ExportSummary:
    """Export the models of `run` (a writable RunDir) as `config.export` says (the pipeline driver sets
    threads and records the stage's start and done)."""
    from natv2.export.preprocessing import dataset_metadata
    from natv2.export.runner import export_finetuned, export_inherited
    from natv2.io.source_record import read_source_record, source_summary

    ex = config.export
    splits = _splits_or_none(config, log)
    if ex.int8 and splits is None:
        from natv2.errors import DataError

        raise DataError("export.int8 calibrates each INT8 model on the run's training images, and the run's "
                        "dataset cannot be loaded here", "export where the run's data (data.root) is readable, or set export.int8=false")
    int8_data = None
    if ex.int8:
        from natv2.export.int8_data import int8_data as make_int8_data

        int8_data = make_int8_data(splits, config.data, ex, seed=config.run.seed)
    inputs_for = parity_inputs(config, max(ex.parity_batches), log, splits) if splits is not None else None
    dataset_meta = dataset_metadata(config.data, splits) if splits is not None else {}
    record = read_source_record(run.path)
    if record is not None:  # a transfer run: each model says which source supernet it came from
        dataset_meta = {**dataset_meta, TRANSFER_SOURCE_KEY: source_summary(record)}
    if ex.source == "finetuned":
        summary = export_finetuned(run.models_dir, ex, {"run_dir": str(run.path), "run_id": run.path.name}, log=log,
                                   inputs_for=inputs_for, extra=dataset_meta, int8_data=int8_data)
    else:
        summary = export_inherited(run.models_dir, ex, _inherited_items(run, config, splits), log=log, inputs_for=inputs_for,
                                   extra=dataset_meta, int8_data=int8_data)
    for m in summary.models:
        run.log_event(STAGE, "model_exported", name=m.name, files=m.files, max_abs_diff=m.max_abs_diff)
    return summary


def format_table(summary: ExportSummary, models_dir: Any) -> list[str]:
    rows = [f"  {'model':<34} {'latency':>9} {'max |diff|':>10}  files"]
    for m in summary.models:
        lat = "n/a" if m.latency_ms is None else f"{m.latency_ms:.2f}ms"
        diff = "n/a" if m.max_abs_diff is None else f"{m.max_abs_diff:.1e}"
        rows.append(f"  {m.name:<34} {lat:>9} {diff:>10}  {models_dir}/{m.folder}/ ({', '.join(sorted(m.files))})")
        if m.int8 is not None:
            q = m.int8
            speed = ", ".join(f"{v:.2f}x at batch {b}" for b, v in q.speedup.items())
            rows.append(f"  {'':<34} int8: {q.split} top-1 {100 * q.top1_float:.2f}% -> {100 * q.top1_int8:.2f}%, "
                        f"onnxruntime speed-up {speed} ({q.file})")
    return rows


def run(ctx: StageContext) -> Outcome[ExportSummary]:
    """The `export` stage (natv2.stage's contract): the chosen models in every format, with parity checks."""
    summary = run_export_stage(ctx.run, ctx.config, log=ctx.log)
    return Outcome(f"exported {len(summary.models)} model(s) -> {ctx.run.models_dir}",
                   {"n_models": len(summary.models)}, summary)
