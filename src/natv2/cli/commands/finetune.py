"""`natv2 finetune`: two-step post-processing of the chosen subnets of a run directory."""

from __future__ import annotations

import argparse
from natv2.cli.context import CliContext, add_force_option, run_stage
from natv2.cli.registry import Command
from natv2.io.artifacts import CONFIG_FILE, FINETUNE_SUMMARY, Layout


def add_run_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir_arg", nargs="?", metavar="RUN_DIR", help="the run directory (same as --run-dir)")
    add_force_option(parser)


def run_config(ctx: CliContext):
    """The run's own config.yaml (plus --set) when an existing run is named and no --config/--preset is given."""
    args = ctx.args
    if getattr(args, "run_dir_arg", None):
        args.run_dir = args.run_dir_arg
    from natv2.errors import RunDirError

    if not args.run_dir:
        raise RunDirError("no run directory given", "name the run: natv2 COMMAND RUN_DIR (or --run-dir RUN_DIR)")
    saved = Layout(args.run_dir).config
    if not saved.is_file():
        raise RunDirError(f"'{args.run_dir}' is not a natv2 run directory (it has no {CONFIG_FILE})",
                          "pass the folder a search wrote (natv2 run / natv2 search --run-dir ...)")
    if args.config is None and args.preset is None:
        args.config = str(saved)
    return ctx.config()


def _run(ctx: CliContext) -> int:
    from natv2.finetune.stage import format_table

    config = run_config(ctx)
    outcome, path = run_stage(ctx, config, "finetune", label="finetune")
    models = Layout(path).models
    ctx.echo("\n".join(format_table(outcome.result)))
    ctx.echo(f"fine-tuned models and results: {models}/ (summary: {models / FINETUNE_SUMMARY})")
    return 0


COMMANDS = [
    Command(
        "finetune",
        "two-step post-processing of a run's chosen subnets (E* on validation, test once)",
        run=_run,
        configure=add_run_dir_argument,
        description=(
            "Fine-tune the subnets a search chose (finetune.select: front, picks, named, all) with NATv2's\n"
            "two-step protocol: step 1 fine-tunes on the training split and early-stops on the validation\n"
            "split to find the best epoch count E*; step 2 starts again from the supernet weights and trains\n"
            "on train + validation for E* epochs. Test accuracy is measured once, at the end, for the\n"
            "inherited and the fine-tuned weights. Finished subnets are not redone when run again."),
        epilog=("examples:\n  natv2 finetune runs/quickstart-20250101-120000\n"
                "  natv2 finetune RUN --set finetune.max_epochs=20 --set finetune.variants=[single,multi_exit]\n"
                "  natv2 finetune RUN --set finetune.select=named --set finetune.names=[r32-w1-x3-abc123def456]"),
    )
]
