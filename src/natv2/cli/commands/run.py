"""`natv2 run`: the whole pipeline (train-supernet -> search -> finetune -> export -> report) on one
run directory; with no arguments, the `quickstart` preset on the default dataset."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from natv2.cli.context import CliContext, add_force_option, add_source_option, stage_session
from natv2.cli.registry import Command
from natv2.errors import NatError
from natv2.io.artifacts import REL_TRAINED_SUPERNET


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir_arg", nargs="?", metavar="RUN_DIR",
                        help="run directory to create or resume (same as --run-dir)")
    parser.add_argument("--supernet", metavar="PATH", default=None,
                        help="skip training: search this natv2 supernet checkpoint (stem or .safetensors)")
    add_source_option(parser)
    add_force_option(parser)


def _config(ctx: CliContext):
    values = {"search_stage.supernet": str(Path(ctx.args.supernet).resolve())} if ctx.args.supernet else None
    return ctx.run_dir_config(values)


def _run(ctx: CliContext) -> int:
    from natv2.pipeline.run import run_pipeline, where_things_are
    from natv2.stage import StageContext

    config = _config(ctx)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise NatError("natv2 run drives every stage from one process and cannot run under torchrun",
                       "run the distributed stages on their own: torchrun ... -m natv2 train-supernet / search")
    with stage_session(ctx, config, label=ctx.args.preset or "quickstart") as (dist, run_dir, _):
        ctx.echo(f"natv2 run: {run_dir.path}  (settings: {', '.join(ctx.config_sources())})")

        def log(msg: str) -> None:
            if ctx.verbosity >= 0:
                print(msg, file=ctx.stdout, flush=True)

        run_pipeline(StageContext(config=config, run=run_dir, dist=dist, log=log))
        ctx.echo("")
        for line in where_things_are(run_dir.path):
            ctx.echo(line)
        sys.stdout.flush()
        return 0


COMMANDS = [
    Command(
        "run",
        "the whole pipeline on one run directory (train-supernet, search, finetune, export, report); resumable",
        run=_run,
        configure=_configure,
        description=(
            "Chain every stage on one run directory. With no arguments: the quickstart preset on the default\n"
            "dataset (CIFAR-10, found automatically; see `natv2 datasets`). Run the same command again (or\n"
            "`natv2 run RUN_DIR`) after an interruption: finished stages are skipped and the unfinished one\n"
            "resumes where it stopped."
        ),
        epilog=(
            "examples:\n"
            "  natv2 run                                     quickstart, fresh run directory under runs/\n"
            "  natv2 run --preset cifar10 --run-dir runs/c10\n"
            "                                                the CPU-scale CIFAR-10 pipeline\n"
            "  natv2 run runs/c10                            resume it with its saved settings\n"
            f"  natv2 run --supernet runs/c10/{REL_TRAINED_SUPERNET}  search a trained supernet, skip training\n"
            "  natv2 run --preset transfer --source runs/tin --set data.name=imagefolder --set data.root=DIR\n"
            "                                                transfer a supernet trained once (here: the\n"
            "                                                tiny-imagenet-cpu preset's run) to your images"
        ),
    )
]
