"""`natv2 export`: a run's models as safetensors + JSON, TorchScript and ONNX, each verified."""

from __future__ import annotations

from natv2.cli.commands.finetune import add_run_dir_argument, run_config
from natv2.cli.context import CliContext, run_stage
from natv2.cli.registry import Command
from natv2.io.artifacts import EXPORT_META


def _run(ctx: CliContext) -> int:
    from natv2.export.stage import format_table
    from natv2.io.artifacts import Layout

    config = run_config(ctx)
    outcome, path = run_stage(ctx, config, "export", label="export")
    ctx.echo("\n".join(format_table(outcome.result, Layout(path).models)))
    ctx.echo("load one with: python -c \"import natv2; m = natv2.load_model('FOLDER')\"")
    return 0


COMMANDS = [
    Command(
        "export",
        "export a run's models (safetensors + JSON, TorchScript, ONNX; INT8 ONNX on request) with parity checks",
        run=_run,
        configure=add_run_dir_argument,
        description=(
            "Write every fine-tuned model of a run (export.source=finetuned) or the chosen subnets with\n"
            "inherited weights (export.source=inherited) as safetensors + JSON (natv2.load_model),\n"
            "TorchScript and ONNX with a dynamic batch. Each file is run by its own runtime and compared\n"
            "with the PyTorch model; above export.tolerance (max abs difference) the export stops with an\n"
            "error. Every model carries its metadata (config, accuracy and split, params, MACs, latency,\n"
            f"origin) inside its files and in {EXPORT_META} beside them. With export.int8=true each model also\n"
            "gets an INT8 ONNX file (onnxruntime's static quantization, calibrated on training images) with\n"
            "its test top-1 and latency against the float file (docs/deploy.md)."),
        epilog=("examples:\n  natv2 export runs/quickstart-20250101-120000\n"
                "  natv2 export RUN --set export.formats=[onnx] --set export.latency_threads=2\n"
                "  natv2 export RUN --set export.int8=true --force   # add INT8 models to a finished run"),
    )
]
