"""`natv2 train-supernet`: train a supernet (full network, then progressive shrinking) in a run directory."""

from __future__ import annotations

import argparse

from natv2.cli.context import CliContext, add_force_option, add_source_option, run_stage
from natv2.cli.registry import Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue the run directory's training from its last checkpoint (exactly)")
    add_source_option(parser)
    add_force_option(parser)


def _run(ctx: CliContext) -> int:
    from natv2.io.artifacts import Layout
    from natv2.train.metrics import MetricsLog, phase_eval_table

    config = ctx.config()
    outcome, path = run_stage(ctx, config, "train", label="train", resume=ctx.args.resume)
    if path is not None:
        result = outcome.result
        ctx.echo(f"trained supernet: {result.weights_path}")
        for p in result.phases:
            best = "-" if p.best_metric is None else f"{100 * p.best_metric:.2f}%"
            ctx.echo(f"  {p.name:<10} best validation (grid mean) {best}")
        lay = Layout(path)
        table = phase_eval_table(MetricsLog(lay.train_metrics).read())
        if table.count("\n") > 1:
            ctx.echo("\nend-of-phase evaluation (top-1 %):\n" + table)
        written = [f"{what}: {f}" for what, f in (("metrics", lay.train_metrics), ("plot", lay.train_plot)) if f.is_file()]
        if written:  # a recipe without phases (train.recipe=none) writes neither
            ctx.echo("  ".join(written))
    return 0


COMMANDS = [
    Command(
        "train-supernet",
        "train a supernet: full network, then (extended) progressive shrinking; resumable, torchrun-ready",
        run=_run,
        configure=_configure,
        description=(
            "Train the supernet of the `train` section on the `data` section's dataset: the full\n"
            "network first (all exits at once for early-exit supernets), then the elastic phases of\n"
            "the recipe (kernel -> level -> exit -> depth -> expand), with in-place distillation.\n"
            "A checkpoint is written after every epoch; --resume continues exactly where it stopped.\n"
            "Distributed: torchrun --nproc_per_node N -m natv2 train-supernet ... (gloo on CPU, NCCL on GPU)."),
        epilog=(
            "examples:\n"
            "  natv2 train-supernet --preset quickstart --set train.space.r=[24,28,32] --set train.epochs_scale=0.02\n"
            "  natv2 train-supernet --run-dir runs/c10 --resume\n"
            "  natv2 train-supernet --config src/natv2/train/configs/cifar10-cpu-1h.yaml --set train.supernet=ofav2_ee_d --run-dir runs/c10"),
    )
]
