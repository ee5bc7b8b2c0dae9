"""One way to write a module to ONNX and one way to open an ONNX file with onnxruntime.

Export (`natv2.export`), the INT8 latency table (`natv2.measure`) and `natv2 predict` all go
through these, so every ONNX file natv2 writes has the same input name, dynamic batch axis and
metadata entry, and every session is configured the same way (CPU provider, fixed threads).

torch's TorchScript-based exporter is used (`dynamo=False`): the torch.export-based one needs the
`onnxscript` package, which natv2 does not depend on, and the legacy path exports these static
MobileNet-style networks exactly (export checks parity on every file).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from natv2.io.atomic import atomic_write_with

if TYPE_CHECKING:  # torch is imported only where a module is written: predict and the report stay light
    import torch
    from torch import nn

INPUT_NAME = "input"
METADATA_KEY = "natv2"  # the metadata_props entry holding the model's natv2 metadata (JSON)


def write_onnx(module: "nn.Module", example: "torch.Tensor", path: str | Path, output_names: Sequence[str],
               opset: int = 17, metadata: Mapping[str, Any] | None = None) -> Path:
    """Export eval-mode `module` traced on `example` to `path` (atomic), batch axis dynamic,
    `metadata` stored as JSON under metadata_props['natv2']; the file passes onnx.checker."""
    import onnx
    import torch

    module = module.eval()
    axes = {name: {0: "batch"} for name in (INPUT_NAME, *output_names)}

    def write(tmp: str) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), tmp, dynamo=False, input_names=[INPUT_NAME],
                              output_names=list(output_names), dynamic_axes=axes, opset_version=opset,
                              do_constant_folding=True)
        model = onnx.load(tmp)
        if metadata is not None:
            set_metadata(model, metadata)
        onnx.checker.check_model(model)
        onnx.save(model, tmp)

    return atomic_write_with(Path(path), write)


def set_metadata(model: Any, metadata: Mapping[str, Any]) -> None:
    """Replace the natv2 metadata entry of an in-memory onnx.ModelProto."""
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(dict(metadata), sort_keys=True)


def copy_with_metadata(src: str | Path, dst: str | Path, metadata: Mapping[str, Any] | None) -> Path:
    """Write the ONNX file `src` to `dst` (atomic) with `metadata` as its natv2 entry (None: unchanged)."""
    import onnx

    model = onnx.load(str(src))
    if metadata is not None:
        set_metadata(model, metadata)
    return atomic_write_with(Path(dst), lambda tmp: onnx.save(model, tmp))


def open_session(path: str | Path, threads: int = 1) -> Any:
    """An onnxruntime CPU session with `threads` intra-op threads and one inter-op thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: ORT's optimiser warnings are not the user's business
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def session_metadata(session: Any) -> dict[str, Any] | None:
    """The natv2 metadata an ONNX file carries, read from an open session (None when it has none)."""
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return None if raw is None else json.loads(raw)


def onnxruntime_version() -> str:
    import onnxruntime as ort

    return str(ort.__version__)


__all__ = ["INPUT_NAME", "METADATA_KEY", "copy_with_metadata", "onnxruntime_version", "open_session", "session_metadata", "set_metadata",
           "write_onnx"]
