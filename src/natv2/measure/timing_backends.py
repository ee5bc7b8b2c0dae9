"""How the latency table times a module (one stand-alone layer, or a whole extracted subnet).

A table's entries, its calibration and its validation must all come from the same runtime, or the
affine fit and the error statistics compare two different things. So the runtime is a named backend
that `LatencyTable` records in meta["backend"] and looks up again for every later measurement:

* `torch`: eager PyTorch on the table's device (the float table; a table without the key is one).
* `onnxruntime-int8`: each module is exported to ONNX, statically quantized (QDQ, uint8 activations,
  int8 weights, `natv2.runtime.int8`) and timed in onnxruntime on the CPU, so the table predicts
  the latency of the INT8 model `natv2 export` writes.

Add a backend with `BACKENDS.register(name, backend)`; it needs the `TimingBackend` methods.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol

import numpy as np
import torch
from torch import nn

from natv2.errors import ConfigError
from natv2.measure.latency import cpu_flags, has_vnni, interleaved_calls, interleaved_times, make_input, prepare, torch_threads
from natv2.registry import Registry

TORCH = "torch"
ONNXRUNTIME_INT8 = "onnxruntime-int8"

Timed = tuple[nn.Module, tuple[int, ...]]  # a module and the shape of its input


@dataclass(frozen=True)
class TimingSetting:
    """Where and how long each module is timed (the same for every module of one measurement)."""

    device: torch.device
    channels_last: bool
    threads: int
    warmup: int
    runs: int
    rounds: int


class TimingBackend(Protocol):
    """A runtime the latency table can time modules with."""

    name: str
    precision: str
    label: str  # how logs name it

    def check_device(self, device: torch.device) -> None:
        """Raise ConfigError when this backend cannot time on `device` (before any timing starts)."""

    def channels_last(self, device: torch.device, requested: bool | None) -> bool:
        """The memory format used (and recorded in the table) for `requested` on `device`."""

    def threads(self, threads: int | None) -> ContextManager[int]:
        """Put `threads` in force while timing; yields the count actually used."""

    def describe(self) -> dict[str, Any]:
        """What the table's meta records about this backend (merged into it)."""

    def time(self, items: Iterable[Timed], setting: TimingSetting) -> list[list[float]]:
        """Per-pass times (ms) of each module, measured round-robin (`interleaved_calls`)."""


class TorchBackend:
    """Eager PyTorch under inference_mode: the float table, as natv2 has always built it."""

    name = TORCH
    precision = "float32"
    label = "torch (float32)"

    def check_device(self, device: torch.device) -> None:
        pass

    def channels_last(self, device: torch.device, requested: bool | None) -> bool:
        return device.type == "cpu" if requested is None else bool(requested)  # NHWC is 1.4-2.8x faster on CPU

    def threads(self, threads: int | None) -> ContextManager[int]:
        return torch_threads(threads)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "precision": self.precision}

    def time(self, items: Iterable[Timed], setting: TimingSetting) -> list[list[float]]:
        dev, cl = setting.device, setting.channels_last
        ready = [(prepare(m, dev, cl, copy_module=False), make_input(shape, dev, cl)) for m, shape in items]
        return interleaved_times(ready, setting.warmup, setting.runs, setting.rounds)


class OnnxInt8Backend:
    """ONNX export + onnxruntime static INT8 quantization, timed as onnxruntime session calls on the CPU.

    Calibration batches only set each activation's quantization range; latency does not depend on
    the values, so a few seeded random batches of the module's input shape are enough.
    """

    name = ONNXRUNTIME_INT8
    precision = "int8"
    label = "onnxruntime INT8 (each layer and subnet exported to ONNX and statically quantized)"
    calibration_batches = 2
    seed = 0
    opset = 17
    output_names = ("output",)

    def check_device(self, device: torch.device) -> None:
        if device.type != "cpu":
            raise ConfigError(
                f"an INT8 latency table is timed with onnxruntime's CPU kernels, but device '{device}' was asked",
                "build it on the CPU (natv2 latency-table --int8 without --device cuda), or drop --int8 "
                "for a float table on the GPU")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            raise ConfigError("an INT8 latency table needs onnxruntime, which is not installed",
                              "pip install onnxruntime") from None

    def channels_last(self, device: torch.device, requested: bool | None) -> bool:
        return False  # the ONNX graph is NCHW; onnxruntime picks its own kernel layouts

    @contextmanager
    def threads(self, threads: int | None) -> Iterator[int]:
        yield 1 if threads is None else int(threads)  # onnxruntime's intra-op threads, set per session

    def describe(self) -> dict[str, Any]:
        from natv2.runtime.int8 import QuantRecipe
        from natv2.runtime.onnx_file import onnxruntime_version

        flags = cpu_flags()
        recipe = {**QuantRecipe(per_channel=True).describe(), "calibration_batches": self.calibration_batches}
        return {"backend": self.name, "precision": self.precision, "onnxruntime_version": onnxruntime_version(),
                "opset": self.opset, "cpu_flags": flags, "vnni": has_vnni(flags), "quantization": recipe}

    def time(self, items: Iterable[Timed], setting: TimingSetting) -> list[list[float]]:
        self.check_device(setting.device)
        with tempfile.TemporaryDirectory(prefix="natv2-int8-lut-") as tmp:
            calls = [self._int8_call(m, shape, Path(tmp) / f"m{i}", setting.threads) for i, (m, shape) in enumerate(items)]
            return interleaved_calls(calls, setting.warmup, setting.runs, setting.rounds)

    def _int8_call(self, module: nn.Module, shape: tuple[int, ...], stem: Path, threads: int) -> Callable[[], Any]:
        """Export, quantize and open one module; its forward pass on a seeded input, as a timed call."""
        from natv2.measure.onnx_latency import session_call
        from natv2.runtime.int8 import INT8_SUFFIX, QuantRecipe, quantize_int8
        from natv2.runtime.onnx_file import open_session, write_onnx

        rng = np.random.default_rng(self.seed)
        batches = [rng.standard_normal(shape).astype(np.float32) for _ in range(self.calibration_batches + 1)]
        example = torch.from_numpy(batches[-1])
        float_path = write_onnx(module.cpu().eval(), example, stem.with_suffix(".onnx"), self.output_names, self.opset)
        int8_path = quantize_int8(float_path, stem.with_name(stem.name + INT8_SUFFIX), batches[:-1],
                                  QuantRecipe(per_channel=True))
        return session_call(open_session(int8_path, threads), batches[-1])


BACKENDS: Registry[TimingBackend] = Registry("latency-table timing backend")
"""Timing backends by name; a table's meta["backend"] names one (absent: torch)."""
BACKENDS.register(TORCH, TorchBackend())
BACKENDS.register(ONNXRUNTIME_INT8, OnnxInt8Backend())


def get_backend(name: str) -> TimingBackend:
    """The registered backend `name` (an unknown name is a ConfigError listing the known ones)."""
    return BACKENDS.get(name)


def table_backend(meta: dict[str, Any]) -> str:
    """The backend a table was built with; tables written before backends existed are torch tables."""
    return str(meta.get("backend", TORCH))


__all__ = ["BACKENDS", "ONNXRUNTIME_INT8", "TORCH", "OnnxInt8Backend", "TimingBackend", "TimingSetting", "TorchBackend",
           "get_backend", "table_backend"]
