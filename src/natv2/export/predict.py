"""Classify image files with an exported model, using nothing but the model's own files.

`open_model` reads the metadata a format carries (the JSON beside the safetensors, the TorchScript
extra file, the ONNX metadata_props) and loads it with its runtime; `predict` decodes each image as
natv2.data does, applies the recorded evaluation transform and returns the top classes. Runtimes
are a registry keyed by format name, so adding one touches no dispatch code.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from natv2.errors import CheckpointError
from natv2.io.artifacts import EXPORT_SUMMARY, FINETUNE_SUMMARY
from natv2.export.bundle import STEM
from natv2.export.preprocessing import CLASSES_KEY, require, transform_from
from natv2.registry import Registry
from natv2.runtime.int8 import INT8_SUFFIX

Run = Callable[[Any], np.ndarray]  # N x 3 x r x r float tensor -> N x n_classes logits


@dataclass(frozen=True)
class Runtime:
    """One export format: the file suffixes it owns and how to open such a file."""

    name: str
    suffixes: tuple[str, ...]
    open: Callable[[Path], tuple[dict[str, Any], Run]]
    missing: str = "pass a folder written by `natv2 export`, or choose another --format"  # fix when a folder lacks it


RUNTIMES: Registry[Runtime] = Registry("model format", fix="use one of {names}")


def _logits_index(meta: dict[str, Any]) -> int:
    outputs = list(meta.get("outputs") or ["logits"])
    return outputs.index("logits") if "logits" in outputs else len(outputs) - 1


def _open_pytorch(path: Path) -> tuple[dict[str, Any], Run]:
    import torch

    from natv2.export.bundle import load_model

    model = load_model(path)

    def run(x: Any) -> np.ndarray:
        with torch.no_grad():
            return model(x).float().numpy()

    return dict(getattr(model, "meta", {}) or {}), run


def _torchscript_meta(path: Path) -> dict[str, Any]:
    """The natv2.json extra file, read from the archive without loading the module."""
    try:
        with zipfile.ZipFile(path) as zf:
            name = next((n for n in zf.namelist() if n.endswith("/extra/natv2.json")), None)
            if name is None:
                raise CheckpointError(f"{path} is a TorchScript file without natv2 metadata",
                                      "pass a model written by `natv2 export`")
            return json.loads(zf.read(name))
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a TorchScript archive ({err})", "pass the model.pt written by `natv2 export`") from None


def _open_torchscript(path: Path) -> tuple[dict[str, Any], Run]:
    import warnings

    import torch

    meta = _torchscript_meta(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch deprecates TorchScript; it still works
        module = torch.jit.load(str(path), map_location="cpu")
    index = _logits_index(meta)

    def run(x: Any) -> np.ndarray:
        with torch.no_grad():
            out = module(x)
        return (out if isinstance(out, torch.Tensor) else out[index]).float().numpy()

    return meta, run


def _open_onnx(path: Path) -> tuple[dict[str, Any], Run]:
    from natv2.runtime.onnx_file import open_session, session_metadata

    try:
        session = open_session(path, threads=0)
    except Exception as err:  # onnxruntime raises its own types for a file that is not a model
        raise CheckpointError(f"{path} is not an ONNX model onnxruntime can load ({type(err).__name__})",
                              "pass the model.onnx written by `natv2 export`") from None
    meta = session_metadata(session)
    if meta is None:
        raise CheckpointError(f"{path} is an ONNX model without natv2 metadata", "pass a model written by `natv2 export`")
    name = session.get_inputs()[0].name
    index = _logits_index(meta)
    return meta, lambda x: np.asarray(session.run(None, {name: x.contiguous().numpy()})[index])


def _open_int8(path: Path) -> tuple[dict[str, Any], Run]:
    """An INT8 ONNX model: refused when the file holds no quantized operator (a float model renamed)."""
    from natv2.runtime.int8 import is_quantized

    try:
        quantized = is_quantized(path)
    except Exception as err:  # onnx raises DecodeError & co. for a damaged file
        raise CheckpointError(f"{path} is not an ONNX model ({type(err).__name__})",
                              "export it again: natv2 export RUN --set export.int8=true") from None
    if not quantized:
        raise CheckpointError(f"{path} holds no quantized operator: it is a float model, not an INT8 one",
                              "export the INT8 model with natv2 export RUN --set export.int8=true")
    return _open_onnx(path)


RUNTIMES.register("safetensors", Runtime("safetensors", (".safetensors", ".json"), _open_pytorch))
RUNTIMES.register("torchscript", Runtime("torchscript", (".pt",), _open_torchscript))
RUNTIMES.register("onnx", Runtime("onnx", (".onnx",), _open_onnx))
RUNTIMES.register("int8", Runtime("int8", (INT8_SUFFIX,), _open_int8,
                                  "export the INT8 model: natv2 export RUN --set export.int8=true (--force)"))


def _not_the_models_folder(path: Path) -> None:
    """A run's models/ folder or one of its summaries is not a model: name one model folder instead."""
    folder = path.parent if path.name in (EXPORT_SUMMARY, FINETUNE_SUMMARY) else path
    if not (folder / EXPORT_SUMMARY).is_file() and path.name not in (EXPORT_SUMMARY, FINETUNE_SUMMARY):
        return
    models = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    example = folder / (models[0] if models else "NAME")
    raise CheckpointError(f"{path} is a run's list of models, not one model" + (f" (it holds {', '.join(models)})" if models else ""),
                          f"pass one model folder, e.g. {example}")


def _file_for(path: Path, fmt: str | None) -> tuple[Path, Runtime]:
    """The model file and its runtime: from the suffix, or `fmt` (default safetensors) inside a folder."""
    _not_the_models_folder(path)
    if path.is_dir():
        runtime = RUNTIMES.get(fmt or "safetensors")
        file = path / f"{STEM}{runtime.suffixes[0]}"
        if file.is_file():
            return file, runtime
        raise CheckpointError(f"no {runtime.name} model in folder {path}", runtime.missing)
    if not path.exists():
        raise CheckpointError(f"model file {path} does not exist", "pass an exported model folder or file")
    matches = sorted((RUNTIMES.get(n) for n in RUNTIMES.names() if path.name.endswith(RUNTIMES.get(n).suffixes)),
                     key=lambda rt: -max(len(s) for s in rt.suffixes if path.name.endswith(s)))  # model.int8.onnx: int8
    if not matches:
        raise CheckpointError(f"{path} is not a model file natv2 can run (suffix {path.suffix or 'none'})",
                              f"pass a folder or a file ending in {sorted(s for n in RUNTIMES.names() for s in RUNTIMES.get(n).suffixes)}")
    if fmt is not None and fmt not in {m.name for m in matches}:
        raise CheckpointError(f"{path} is a {matches[0].name} file, not {fmt}", "drop --format, or pass the folder")
    return path, next((m for m in matches if m.name == fmt), matches[0])


@dataclass
class DeployedModel:
    """An exported model opened with its runtime, and what its metadata says about inputs and classes."""

    path: Path
    format: str
    meta: dict[str, Any]
    run: Run = field(repr=False)

    @property
    def resolution(self) -> int:
        return int(self.meta["resolution"])

    @property
    def classes(self) -> list[str]:
        names = self.meta.get(CLASSES_KEY)
        return [str(c) for c in names] if names else [str(i) for i in range(int(self.meta.get("n_classes", 0)))]


def open_model(path: str | Path, format: str | None = None) -> DeployedModel:
    """Open an exported model folder or file (safetensors/.json, TorchScript .pt or ONNX) for inference."""
    file, runtime = _file_for(Path(path), format)
    meta, run = runtime.open(file)
    require(meta, str(file))
    return DeployedModel(file, runtime.name, meta, run)


@dataclass(frozen=True)
class Prediction:
    """The classes of one image, best first: (index, name, probability)."""

    image: str
    top: tuple[tuple[int, str, float], ...]

    @property
    def index(self) -> int:
        return self.top[0][0]

    @property
    def label(self) -> str:
        return self.top[0][1]

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "index": self.index, "label": self.label,
                "top": [{"index": i, "label": n, "probability": p} for i, n, p in self.top]}


def logits_of(model: DeployedModel, images: Sequence[str | Path]) -> np.ndarray:
    """N x n_classes logits of the image files (each decoded and transformed as validation did)."""
    import torch

    from natv2.data.images import decode_image

    transform = transform_from(model.meta["preprocessing"])
    rows = []
    for image in images:
        x = transform(torch.from_numpy(decode_image(image))[None], model.resolution).contiguous()
        rows.append(model.run(x)[0])
    return np.stack(rows) if rows else np.zeros((0, len(model.classes)), dtype=np.float32)


def predict(model: str | Path | DeployedModel, images: Sequence[str | Path], format: str | None = None,
            top: int = 1) -> list[Prediction]:
    """The `top` classes of each image file, from an exported model and its metadata alone."""
    deployed = model if isinstance(model, DeployedModel) else open_model(model, format)
    logits = logits_of(deployed, images)
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    names = deployed.classes
    out = []
    for image, p in zip(images, probs):
        order = np.argsort(-p, kind="stable")[: max(1, top)]
        out.append(Prediction(str(image), tuple((int(i), names[i] if i < len(names) else str(i), float(p[i])) for i in order)))
    return out


__all__ = ["RUNTIMES", "DeployedModel", "Prediction", "Runtime", "logits_of", "open_model", "predict"]
