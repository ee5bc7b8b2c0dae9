"""Where INT8's accuracy loss comes from: one exported model quantized several ways with onnxruntime's tooling
(QDQ, int8 per-channel weights, the run's calibration images), validation top-1 of each against the float file.

The deployed recipe (uint8 activations, min-max ranges) against: 16-bit activations (no fast CPU kernels in
onnxruntime, so a diagnosis, not a deployment option), other range calibrations (entropy, percentile, a moving
average of per-batch ranges), only the convolutions quantized, and the first and last layer left in float.
Uses the run's own config and dataset.

    python docs/scripts/int8_activation_bits.py runs/imagenette-transfer r40-w1-x1-fc026a6d3920
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from natv2.data import load_dataset
from natv2.export.int8_data import int8_data
from natv2.export.quantized import predictions
from natv2.io.artifacts import EXPORT_META, Layout
from natv2.io.atomic import read_json
from natv2.pipeline.config import resolve_config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("model", help="the model's folder name under RUN/models")
    args = p.parse_args()
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from natv2.runtime.int8 import _Batches

    logging.disable(logging.WARNING)
    cfg = resolve_config(config_file=Layout(args.run).config)
    folder = args.run / "models" / args.model
    meta = read_json(folder / EXPORT_META)
    r, float_path = int(meta["resolution"]), folder / meta["files"]["onnx"]
    data = int8_data(load_dataset(cfg.data), cfg.data, cfg.export, seed=cfg.run.seed)

    def top1(path: Path) -> float:
        pred, labels = predictions(path, data.choice_batches(r), "logits")
        return float((pred == labels).mean())

    print(f"{args.model} ({r} px), validation top-1 on {len(data.choice)} images")
    print(f"  {'float32':<40} {100 * top1(float_path):.2f}%")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared))
        import onnx

        convs = [n.name for n in onnx.load(str(prepared)).graph.node if n.op_type in ("Conv", "Gemm")]
        recipes = {
            "uint8 activations, min-max (deployed)": {},
            "uint16 activations": {"activation_type": QuantType.QUInt16},
            "entropy ranges": {"calibrate_method": CalibrationMethod.Entropy},
            "percentile ranges (99.999)": {"calibrate_method": CalibrationMethod.Percentile},
            "moving-average ranges": {"extra_options": {"CalibMovingAverage": True}},
            "convolutions only": {"op_types_to_quantize": ["Conv", "Gemm"]},
            "first and last layer in float": {"nodes_to_exclude": [convs[0], convs[-1]]},
        }
        for i, (label, kw) in enumerate(recipes.items()):
            out = Path(tmp) / f"q{i}.onnx"
            quantize_static(str(prepared), str(out), _Batches(data.calibration_batches(r)), quant_format=QuantFormat.QDQ,
                            per_channel=True, **{"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8, **kw})
            print(f"  {label:<40} {100 * top1(out):.2f}%")


if __name__ == "__main__":
    main()
