"""Static INT8 quantization of an ONNX file with onnxruntime's own tooling, and what it left in float.

`quantize_int8` runs onnxruntime.quantization's pre-processing (shape inference, graph clean-up)
and `quantize_static` in QDQ format: activations uint8 (asymmetric, per tensor, ranges calibrated
on the batches given), weights int8 (symmetric, per channel or per tensor). natv2 writes no
quantizer of its own. The result is an ordinary ONNX file that any runtime can read; onnxruntime
fuses each DequantizeLinear -> op -> QuantizeLinear into an integer kernel (QLinearConv, ...).

Not every operator has an integer kernel: MobileNetV3's hard-sigmoid (inside hard-swish and the
squeeze-excitation gate) and the excitation's spatial mean run in float between a dequantize and a
quantize. `operator_census` reports exactly which, from the graph onnxruntime actually runs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from natv2.runtime.onnx_file import INPUT_NAME, copy_with_metadata

INT8_SUFFIX = ".int8.onnx"
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
CONVERSION_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})
LAYOUT_OPS = frozenset({"Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Shape"})
INTEGER_OPS = frozenset({"QGemm", "MatMulInteger", "ConvInteger", "QLinearMatMul"})


@dataclass(frozen=True)
class QuantRecipe:
    """How weights are scaled (per output channel or one scale per tensor) and how activation ranges
    are calibrated (minmax: the observed range; entropy / percentile: clipped ranges)."""

    per_channel: bool
    method: str = "minmax"

    def __post_init__(self) -> None:
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(f"calibration method {self.method!r} is not one of {CALIBRATION_METHODS}")

    @property
    def name(self) -> str:
        return "per_channel" if self.per_channel else "per_tensor"

    def describe(self) -> dict[str, Any]:
        return {"format": "QDQ", "weights": f"int8, symmetric, {self.name.replace('_', ' ')}",
                "activations": "uint8, asymmetric, per tensor", "calibration": self.method,
                "tool": "onnxruntime.quantization.quantize_static"}


class _Batches:
    """onnxruntime's CalibrationDataReader over an iterable of N x 3 x r x r float32 arrays."""

    def __init__(self, batches: Iterable[np.ndarray]) -> None:
        self._it = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}

    def rewind(self) -> None:  # onnxruntime calls it for some methods; one pass is all natv2 gives
        pass


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime.quantization logs every skipped tensor through the root logger; keep the user's log clean."""
    before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(before)


def quantize_int8(float_path: str | Path, out_path: str | Path, batches: Iterable[np.ndarray], recipe: QuantRecipe,
                  metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the statically quantized (QDQ) version of the ONNX file `float_path` to `out_path` (atomic).

    `batches`: calibration inputs, as the model expects them (normalised images); they decide each
    activation's range, so they must come from training data. `metadata`: the natv2 entry stored
    in the file (replaces the float model's).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
              "percentile": CalibrationMethod.Percentile}[recipe.method]
    out = Path(out_path)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".int8-") as tmp, _quiet():
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "quantized.onnx"
        quant_pre_process(str(float_path), str(prepared))
        quantize_static(str(prepared), str(quantized), _Batches(batches), quant_format=QuantFormat.QDQ,
                        per_channel=recipe.per_channel, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, calibrate_method=method,
                        extra_options={"CalibTensorRangeSymmetric": False})
        return copy_with_metadata(quantized, out, metadata)


def quantizable_graph(path: str | Path) -> bool:
    """False for a float ONNX file written before natv2 exported 1x1 convolutions as `Conv`: its `MatMul`s between
    transposes are neither fused with their batch norm nor quantized well, so such a file is exported again."""
    import onnx

    return "MatMul" not in {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}


def is_quantized(path: str | Path) -> bool:
    """Whether the ONNX file holds quantized tensors (a QuantizeLinear node, or an integer operator)."""
    import onnx

    ops = {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}
    return bool(ops & ({"QuantizeLinear"} | INTEGER_OPS)) or any(op.startswith("QLinear") for op in ops)


def operator_census(path: str | Path) -> dict[str, dict[str, int]]:
    """The operators onnxruntime runs for this file after its graph fusions, in three groups:
    `int8` (integer kernels), `float` (computed in float32 between a dequantize and a quantize),
    `conversions` (quantize / dequantize steps left) and `layout` (reshapes, no arithmetic)."""
    import onnx
    import onnxruntime as ort

    groups: dict[str, Counter[str]] = {k: Counter() for k in ("int8", "float", "conversions", "layout")}
    with tempfile.TemporaryDirectory(prefix="natv2-census-") as tmp:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED  # fusions, not CPU-specific layouts
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for node in onnx.load(options.optimized_model_filepath).graph.node:
            op = node.op_type
            group = ("int8" if op.startswith("QLinear") or op in INTEGER_OPS else "conversions" if op in CONVERSION_OPS
                     else "layout" if op in LAYOUT_OPS else "float")
            groups[group][op] += 1
    return {k: dict(sorted(v.items())) for k, v in groups.items()}


__all__ = ["CALIBRATION_METHODS", "INT8_SUFFIX", "QuantRecipe", "is_quantized", "operator_census", "quantizable_graph",
           "quantize_int8"]
