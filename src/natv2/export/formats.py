"""Exporters for inference runtimes, each with a parity check against the PyTorch model.

Every exporter writes one file atomically, embeds the model's metadata in it, and reports the
largest absolute output difference between the file (run by its own runtime) and the PyTorch
module on random inputs of several batch sizes. The caller refuses results above its tolerance.

ONNX files are written and run through `natv2.runtime.onnx_file`, the one owner of how natv2
writes and opens them.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import numpy as np
import torch
from torch import nn

from natv2.errors import NatError
from natv2.io.atomic import atomic_write_with
from natv2.runtime.onnx_file import INPUT_NAME, open_session, write_onnx



@dataclass(frozen=True)
class ExportSpec:
    """What every exporter needs: the module in eval mode, its input shape, output names, metadata.

    `inputs`: real images (N x 3 x r x r, normalised as in training) for the parity checks; batch b
    uses the first b of them. None: seeded standard-normal inputs (normalised images are roughly that).
    """

    module: nn.Module
    resolution: int
    output_names: tuple[str, ...]
    metadata: dict[str, Any]
    opset: int = 17
    inputs: torch.Tensor | None = None

    def example(self, batch: int, seed: int = 0) -> torch.Tensor:
        if self.inputs is not None and len(self.inputs) >= batch:
            return self.inputs[:batch].contiguous()
        gen = torch.Generator().manual_seed(seed + batch)
        return torch.randn(batch, 3, self.resolution, self.resolution, generator=gen)

    @property
    def input_kind(self) -> str:
        return "real images" if self.inputs is not None else "standard normal, seeded"


def _as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    if isinstance(out, torch.Tensor):
        return (out,)
    return tuple(out)


@torch.no_grad()
@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """float32 convolutions and matmuls without TF32 on a GPU (TF32 alone differs by ~1e-3)."""
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul


def outputs_on(module: nn.Module, x: torch.Tensor, device: str | torch.device) -> tuple[np.ndarray, ...]:
    """The module's outputs computed on `device` (the module is moved there; float32, no TF32)."""
    module = module.to(device)
    with torch.no_grad(), exact_float32():
        return tuple(t.detach().float().cpu().numpy() for t in _as_tuple(module(x.to(device))))


def reference_outputs(module: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, ...]:
    module.eval()
    return tuple(t.detach().float().cpu().numpy() for t in _as_tuple(module(x)))


@dataclass(frozen=True)
class Check:
    """One parity comparison: the largest absolute output difference and the output scale.

    `relative` = max_abs_diff / max(1, max_abs_output): float32 rounding grows with the size of the
    logits, so the tolerance is applied to this (for logits within [-1, 1] it is the absolute difference).
    """

    max_abs_diff: float
    max_abs_output: float

    @property
    def relative(self) -> float:
        return self.max_abs_diff / max(1.0, self.max_abs_output)

    def to_dict(self) -> dict[str, float]:
        return {"max_abs_diff": self.max_abs_diff, "max_abs_output": self.max_abs_output, "relative": self.relative}


def compare(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> Check:
    """Reference outputs `a` against exported outputs `b` (every output of the model)."""
    if len(a) != len(b):
        raise NatError(f"the exported model gives {len(b)} outputs, the PyTorch model {len(a)}",
                       "report this as a natv2 bug")
    worst, scale = 0.0, 0.0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise NatError(f"exported output shape {y.shape} differs from PyTorch's {x.shape}",
                           "report this as a natv2 bug")
        if x.size:
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
            scale = max(scale, float(np.max(np.abs(x))))
    return Check(worst, scale)


class Exporter(Protocol):
    suffix: str

    def write(self, spec: ExportSpec, path: Path) -> Path: ...

    def run(self, path: Path, x: torch.Tensor) -> tuple[np.ndarray, ...]: ...


class TorchScriptExporter:
    """torch.jit.trace of the eval-mode module; metadata travels as the extra file natv2.json."""

    suffix = ".pt"

    def write(self, spec: ExportSpec, path: Path) -> Path:
        module = spec.module.eval()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript; it still works
            traced = torch.jit.trace(module, spec.example(2), check_trace=False)
            extra = {"natv2.json": json.dumps(spec.metadata, sort_keys=True)}
            return atomic_write_with(path, lambda tmp: torch.jit.save(traced, tmp, _extra_files=extra))

    def run(self, path: Path, x: torch.Tensor, device: str | torch.device = "cpu") -> tuple[np.ndarray, ...]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = torch.jit.load(str(path), map_location=device)
        with torch.no_grad(), exact_float32():
            return tuple(t.float().cpu().numpy() for t in _as_tuple(loaded(x.to(device))))


class OnnxExporter:
    """torch.onnx.export (dynamic batch axis) checked with onnxruntime; metadata in metadata_props."""

    suffix = ".onnx"

    def write(self, spec: ExportSpec, path: Path) -> Path:
        return write_onnx(spec.module, spec.example(2), path, spec.output_names, spec.opset, spec.metadata)

    def run(self, path: Path, x: torch.Tensor) -> tuple[np.ndarray, ...]:
        return tuple(open_session(path, threads=1).run(None, {INPUT_NAME: x.numpy()}))


EXPORTERS: dict[str, Exporter] = {"torchscript": TorchScriptExporter(), "onnx": OnnxExporter()}


def parity_check(run: Callable[[torch.Tensor], tuple[np.ndarray, ...]], spec: ExportSpec,
                 batches: Sequence[int]) -> dict[str, Check]:
    """Compare `run(x)` (an exported file run by its runtime) with the PyTorch module, per batch size."""
    out: dict[str, Check] = {}
    for b in batches:
        x = spec.example(b, seed=1)
        out[str(b)] = compare(reference_outputs(spec.module, x), run(x))
    return out
