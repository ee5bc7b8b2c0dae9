"""`natv2 train-supernet`: train a supernet (full network, then progressive shrinking) in a run directory."""

from __future__ import annotations

import argparse

from natv2.cli.context import CliContext, add_force_option, stage_session
from natv2.cli.registry import Command


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--resume", action="store_true",
                        help="continue the run directory's training from its last checkpoint (exactly)")
    add_force_option(parser)


def _run(ctx: CliContext) -> int:
    from natv2.train.metrics import phase_eval_table
    from natv2.train.run import STAGE, train_supernet

    config = ctx.config()
    with stage_session(ctx, config, label="train") as (dist, run_dir, path):
        events = (lambda kind, data: run_dir.log_event(STAGE, kind, **data)) if run_dir else None
        result = train_supernet(config, path, dist=dist, resume=ctx.args.resume, events=events)
        if run_dir is not None:
            run_dir.mark_done(STAGE, weights=str(result.weights_path))
            ctx.echo(f"trained supernet: {result.weights_path}")
            for p in result.phases:
                best = "-" if p.best_metric is None else f"{p.best_metric:.2f}%"
                ctx.echo(f"  {p.name:<10} best validation (grid mean) {best}")
            from natv2.train.metrics import MetricsLog

            lay = run_dir.layout
            table = phase_eval_table(MetricsLog(lay.train_metrics).read())
            if table.count("\n") > 1:
                ctx.echo("\nend-of-phase evaluation (top-1 %):\n" + table)
            ctx.echo(f"metrics: {lay.train_metrics}  plot: {lay.train_plot}")
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
