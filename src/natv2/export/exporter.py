"""Export one model into a folder: safetensors + JSON, TorchScript, ONNX, metadata, parity report.

Layout of `<out_dir>/`:
    model.safetensors, model.json   rebuild with natv2.load_model(out_dir) (natv2 alone)
    model.pt                        TorchScript (torch.jit.load)
    model.onnx                      ONNX, dynamic batch (onnxruntime)
    meta.json                       the metadata plus the parity report; written last, so its
                                    presence means the export finished and passed every check.

Every file is run by its own runtime and compared with the PyTorch model on inputs of
`parity_batches` sizes (real images when given, else seeded random ones). The largest absolute
output difference is reported; divided by the output scale (max(1, largest |output|), since
float32 rounding grows with the logits) it must stay within the tolerance, else that file is
deleted and NatError raised, so a model that does not match is never left looking finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from natv2.errors import ConfigError, NatError
from natv2.export import bundle
from natv2.export.config import ExportConfig
from natv2.export.formats import EXPORTERS, Check, ExportSpec, outputs_on, parity_check, reference_outputs
from natv2.io.artifacts import EXPORT_META as META_FILE
from natv2.nn.multi_exit import AllOutputs, MultiExitEnsemble
from natv2.io.atomic import atomic_write_json


@dataclass
class ExportRecord:
    """What exporting one model wrote: its folder, the file per format, the parity checks per format and the
    metadata."""
    out_dir: Path
    files: dict[str, str]
    checks: dict[str, dict[str, Check]]
    metadata: dict[str, Any] = field(repr=False)

    @property
    def parity(self) -> dict[str, dict[str, float]]:
        """Max abs output difference per format and batch size."""
        return {fmt: {b: c.max_abs_diff for b, c in per.items()} for fmt, per in self.checks.items()}

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for per in self.checks.values() for c in per.values()), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "files": self.files, "parity": self.parity,
                "max_abs_diff": self.max_abs_diff}


def output_names(model: nn.Module) -> tuple[str, ...]:
    """`logits` for one exit; `exit1..exitN` then the ensembled `logits` for a multi-exit network."""
    if isinstance(model, MultiExitEnsemble):
        return tuple(f"exit{e}" for e in model.exits) + ("logits",)
    return ("logits",)


def export_view(model: nn.Module) -> nn.Module:
    """The module whose outputs the files reproduce (every exit plus the ensemble when multi-exit)."""
    return AllOutputs(model) if isinstance(model, MultiExitEnsemble) else model


def _check(name: str, checks: dict[str, Check], tolerance: float, path: Path) -> None:
    worst = max(checks.values(), key=lambda c: c.relative)
    if worst.relative > tolerance:
        path.unlink(missing_ok=True)
        raise NatError(
            f"the exported {name} model differs from the PyTorch model by up to {worst.max_abs_diff:.3g} "
            f"(max abs output difference, outputs up to {worst.max_abs_output:.3g} in size: relative "
            f"{worst.relative:.3g} > tolerance {tolerance:g}); {path.name} was removed",
            "this is usually a runtime/operator mismatch: export without this format "
            "(export.formats) or, if the difference is acceptable for you, raise export.tolerance",
        )


def parity_device(setting: str) -> str | None:
    """The accelerator the exports are also checked on, or None (CPU only)."""
    if setting == "cpu" or (setting == "auto" and not torch.cuda.is_available()):
        return None
    if not torch.cuda.is_available():
        raise ConfigError("export.parity_device is 'cuda' but torch sees no CUDA device",
                          "use export.parity_device=auto or cpu")
    return "cuda"


def export_model(model: nn.Module, out_dir: str | Path, metadata: dict[str, Any], cfg: ExportConfig,
                 inputs: torch.Tensor | None = None) -> ExportRecord:
    """Write every format of `cfg.formats` for `model` (eval mode) into `out_dir` and verify each.

    `inputs`: real images for the parity checks (at least max(parity_batches)); None = random inputs.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # an unfinished export never looks finished
    model = model.eval()
    names = output_names(model)
    meta = {**metadata, "outputs": list(names)}
    if isinstance(model, MultiExitEnsemble):  # the model itself is the authority on its exits
        meta["exits"] = list(model.exits)
        meta["exit_output_weights"] = model.beta.tolist()
    spec = ExportSpec(export_view(model), int(meta["resolution"]), names, meta, cfg.opset, inputs)
    files: dict[str, str] = {}
    checks: dict[str, dict[str, Check]] = {}

    stem = out / bundle.STEM
    written = bundle.save_bundle(model, stem, meta)
    files.update({k: Path(v).name for k, v in written.items()})
    rebuilt = export_view(bundle.load_model(out))
    checks["safetensors"] = parity_check(lambda x: reference_outputs(rebuilt, x), spec, cfg.parity_batches)
    _check("safetensors", checks["safetensors"], cfg.tolerance, Path(written["safetensors"]))

    for fmt in cfg.formats:
        if fmt == "safetensors":
            continue
        exporter = EXPORTERS[fmt]
        path = exporter.write(spec, out / f"{bundle.STEM}{exporter.suffix}")
        checks[fmt] = parity_check(partial(exporter.run, path), spec, cfg.parity_batches)
        _check(fmt, checks[fmt], cfg.tolerance, path)
        files[fmt] = path.name

    device = parity_device(cfg.parity_device)
    if device is not None:  # the same files, run on the accelerator, against the CPU module
        checks[f"safetensors@{device}"] = parity_check(lambda x: outputs_on(rebuilt, x, device), spec, cfg.parity_batches)
        _check(f"safetensors@{device}", checks[f"safetensors@{device}"], cfg.tolerance, Path(written["safetensors"]))
        rebuilt.to("cpu")
        if "torchscript" in files:
            ts = EXPORTERS["torchscript"]
            path = out / files["torchscript"]
            checks[f"torchscript@{device}"] = parity_check(lambda x: ts.run(path, x, device), spec, cfg.parity_batches)
            _check(f"torchscript@{device}", checks[f"torchscript@{device}"], cfg.tolerance, path)

    record = ExportRecord(out, files, checks, meta)
    atomic_write_json(out / META_FILE, {**meta, "files": files, "parity": {
        "max_abs_diff": record.parity,
        "checks": {fmt: {b: c.to_dict() for b, c in per.items()} for fmt, per in checks.items()},
        "tolerance": cfg.tolerance, "criterion": "max_abs_diff / max(1, max_abs_output) <= tolerance",
        "batch_sizes": list(cfg.parity_batches), "inputs": spec.input_kind}})
    return record
