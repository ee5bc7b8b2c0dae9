"""`natv2 predict MODEL IMAGE...`: classify image files with an exported model and its metadata alone."""

from __future__ import annotations

import argparse
import json

from natv2.cli.context import CliContext
from natv2.cli.registry import Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL",
                        help="an exported model: its folder (<run>/models/NAME), or model.safetensors / .json / .pt / .onnx / .int8.onnx")
    parser.add_argument("images", metavar="IMAGE", nargs="+", help="image files (PNG, JPEG, ...)")
    parser.add_argument("--format", choices=("safetensors", "torchscript", "onnx", "int8"), default=None,
                        help="which file of a model folder to run (default: safetensors, with PyTorch; int8: the "
                             "statically quantized ONNX model of export.int8=true, with onnxruntime)")
    parser.add_argument("--top", type=int, default=1, metavar="K", help="print the K most likely classes (default 1)")
    parser.add_argument("--json", action="store_true", help="print the predictions as JSON")


def _run(ctx: CliContext) -> int:
    from natv2.errors import ConfigError
    from natv2.export.predict import open_model, predict

    if ctx.args.top < 1:
        raise ConfigError(f"--top {ctx.args.top} is not a positive number", "use --top 1 or more")
    model = open_model(ctx.args.model, ctx.args.format)
    preds = predict(model, ctx.args.images, top=ctx.args.top)
    if ctx.args.json:
        ctx.echo(json.dumps({"model": str(model.path), "format": model.format,
                             "predictions": [p.to_dict() for p in preds]}, indent=2))
        return 0
    for p in preds:
        ranked = ", ".join(f"{name} ({prob:.3f})" for _, name, prob in p.top)
        ctx.echo(f"{p.image}\t{ranked}")
    return 0


COMMANDS = [
    Command(
        "predict",
        "classify image files with an exported model (safetensors, TorchScript, ONNX or INT8 ONNX)",
        run=_run,
        configure=_configure,
        description=("Classify image files with a model written by `natv2 export`. The model's own metadata\n"
                     "says how to feed it (resolution, resize mode, mean/std, channel order) and names its\n"
                     "classes, so neither the run directory nor the dataset is needed. Each image is decoded\n"
                     "and transformed exactly as validation did during the run."),
        epilog=("examples:\n  natv2 predict runs/x/models/subnet-0 cat.png dog.jpg\n"
                "  natv2 predict runs/x/models/subnet-0/model.onnx *.png --top 3\n"
                "  natv2 predict runs/x/models/subnet-0 img.png --format torchscript --json\n"
                "  natv2 predict runs/x/models/subnet-0 img.png --format int8"),
    )
]
