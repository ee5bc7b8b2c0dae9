"""The `export` section of a natv2 config: formats, parity tolerance, latency measurement settings.

A frozen dataclass with no torch import (the config layer loads and prints it cheaply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from natv2.config.convert import FieldError
from natv2.config.fields import key_help

FORMATS = ("safetensors", "torchscript", "onnx")



@dataclass(frozen=True)
class ExportConfig:
    """How chosen models leave natv2: safetensors + JSON (always), TorchScript and ONNX."""

    source: Literal["finetuned", "inherited"] = field(default="finetuned", metadata=key_help(
        "export the fine-tuned models of `natv2 finetune`, or the chosen subnets with inherited "
        "supernet weights (BN recalibrated)"))
    formats: tuple[Literal["safetensors", "torchscript", "onnx"], ...] = field(default=FORMATS, metadata=key_help(
        "formats to write; safetensors + JSON (rebuild with natv2.load_model) is always written"))
    tolerance: float = field(default=1e-4, metadata=key_help(
        "largest output difference allowed between an exported file and the PyTorch model, as "
        "max|exported - pytorch| / max(1, max|pytorch|) (the absolute difference for logits within +-1); "
        "export stops with an error above it"))
    parity_batches: tuple[int, ...] = field(default=(1, 3), metadata=key_help(
        "batch sizes of the random inputs of the parity checks (two sizes check the dynamic batch)"))
    opset: int = field(default=17, metadata=key_help("ONNX opset version"))
    parity_device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata=key_help(
        "where the PyTorch and TorchScript exports are checked besides the CPU: auto = also on a GPU when one is "
        "visible (float32, TF32 off), cpu = the CPU only, cuda = also on the GPU (an error without one)"))
    latency: bool = field(default=True, metadata=key_help("measure each model's latency and record it in its metadata"))
    latency_batch_size: int = field(default=1, metadata=key_help("batch size of the latency measurement"))
    latency_threads: int = field(default=1, metadata=key_help("CPU threads of the latency measurement"))
    latency_device: Literal["cpu", "cuda"] = field(default="cpu", metadata=key_help("device of the latency measurement"))
    latency_runs: int = field(default=50, metadata=key_help("timed forward passes (the median is reported)"))
    latency_warmup: int = field(default=10, metadata=key_help("untimed forward passes before timing"))
    int8: bool = field(default=False, metadata=key_help(
        "also write a statically quantized INT8 ONNX model (QDQ, onnxruntime's tooling) beside each model, "
        "calibrated on training images, with its test top-1 and latency against the float model; needs 'onnx' "
        "in formats and the run's dataset"))
    int8_calibration_images: int = field(default=512, metadata=key_help(
        "training images that set the activation ranges (a seeded random subset of the training split)"))
    int8_calibration_method: Literal["minmax", "entropy", "percentile"] = field(default="minmax", metadata=key_help(
        "how activation ranges are set from them: the observed range, or a clipped one (entropy, percentile)"))
    int8_val_images: int = field(default=2000, metadata=key_help(
        "validation images (class-stratified; 0 = all) on which per-channel and per-tensor weight scales are "
        "compared; the better one is kept"))
    int8_latency_batches: tuple[int, ...] = field(default=(1, 64), metadata=key_help(
        "batch sizes at which float and INT8 latency are measured (onnxruntime, export.latency_threads threads)"))

    def __post_init__(self) -> None:
        if not self.tolerance > 0:
            raise FieldError("tolerance", self.tolerance, "a number > 0, e.g. 1e-4")
        if not self.parity_batches or any(b < 1 for b in self.parity_batches):
            raise FieldError("parity_batches", list(self.parity_batches), "a non-empty list of integers >= 1")
        if len(set(self.formats)) != len(self.formats):
            raise FieldError("formats", list(self.formats), f"distinct values from {list(FORMATS)}")
        if not 7 <= self.opset <= 23:
            raise FieldError("opset", self.opset, "an ONNX opset between 7 and 23 (17 is safe)")
        if self.latency_warmup < 0:
            raise FieldError("latency_warmup", self.latency_warmup, "an integer >= 0")
        if self.int8 and "onnx" not in self.formats:
            raise FieldError("int8", self.int8, "false, or add onnx to export.formats (the INT8 model is "
                             "quantized from the float ONNX file)")
        if not self.int8_latency_batches or any(b < 1 for b in self.int8_latency_batches):
            raise FieldError("int8_latency_batches", list(self.int8_latency_batches), "a non-empty list of integers >= 1")
        if self.int8_val_images < 0:
            raise FieldError("int8_val_images", self.int8_val_images, "an integer >= 0 (0 = the whole validation split)")
        for name in ("latency_batch_size", "latency_threads", "latency_runs", "int8_calibration_images"):
            if getattr(self, name) < 1:
                raise FieldError(name, getattr(self, name), "an integer >= 1")
