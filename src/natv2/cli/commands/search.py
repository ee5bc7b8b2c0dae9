"""`natv2 search`: NAT / NATv2 search with online supernet adaptation in a run directory (resumable)."""

from __future__ import annotations

import argparse
from pathlib import Path

from natv2.cli.context import CliContext, add_force_option, add_source_option, run_stage
from natv2.cli.registry import Command
from natv2.io.artifacts import REL_TRAINED_SUPERNET


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir_arg", nargs="?", metavar="RUN_DIR", help="the run directory (same as --run-dir)")
    parser.add_argument("--supernet", metavar="PATH", default=None,
                        help="natv2 supernet checkpoint (stem or .safetensors); default: the run's trained supernet")
    parser.add_argument("--random-init", metavar="NAME", default=None,
                        help="SMOKE TESTS ONLY: search supernet NAME (e.g. ofa_mbv3) with random weights")
    add_source_option(parser)
    add_force_option(parser)


def search_config(ctx: CliContext):
    """The run's own config.yaml when an existing run is named without --config/--preset; then --set,
    --supernet and --random-init on top."""
    values = {}
    if ctx.args.supernet:
        values["search_stage.supernet"] = str(Path(ctx.args.supernet).resolve())
    if ctx.args.random_init:
        values["search_stage.random_init"] = ctx.args.random_init
    return ctx.run_dir_config(values)


def _run(ctx: CliContext) -> int:
    from natv2.io.artifacts import Layout, search_files

    config = search_config(ctx)
    outcome, path = run_stage(ctx, config, "search", label="search")
    if path is not None:
        out = outcome.result
        res = out.result
        ctx.echo(f"search done: archive {len(res.archive)}, non-dominated {len(res.front)}, "
                 f"high-trade-off picks {len(res.high_tradeoff)}; final HV {res.final_hv:.4f}")
        files = search_files(Layout(path).search)
        names = ", ".join(p.name for p in (files.non_dominated, files.high_tradeoff, files.final_test, files.history))
        ctx.echo(f"results: {files.root}/ ({names}); adapted supernet: {out.supernet_path}.safetensors")
    return 0


COMMANDS = [
    Command(
        "search",
        "NAT / NATv2 search on a trained supernet, with online adaptation; resumable, torchrun-ready",
        run=_run,
        configure=_configure,
        description=(
            f"Search the supernet of a run directory (its {REL_TRAINED_SUPERNET}, or --supernet PATH) on the `data`\n"
            "section's dataset with the `search` section's policy (natv2, nat or random): initial archive\n"
            "(NATv2: pre-processing), then per iteration surrogate -> NSGA-II/III -> subset selection ->\n"
            "evaluation -> archive update -> supernet adaptation -> re-evaluation. Accuracy = top-1 on the\n"
            "validation split after BN re-calibration; the final front and picks are also measured on the\n"
            "test split. Every evaluation is journaled: run the same command again to resume.\n"
            "Distributed: torchrun --nproc_per_node N -m natv2 search RUN (evaluations are sharded)."),
        epilog=(
            "examples:\n"
            "  natv2 search runs/c10                      # after natv2 train-supernet --run-dir runs/c10\n"
            f"  natv2 search --preset cifar10 --run-dir runs/s1 --supernet runs/c10/{REL_TRAINED_SUPERNET} \\\n"
            "      --set search.policy=nat --set search.iterations=10 --set search_stage.space.r=[32]\n"
            "  natv2 search --run-dir runs/smoke --random-init ofa_mbv3 --set search.iterations=1   # smoke test\n"
            "  natv2 search --preset transfer --source runs/tin --set data.name=imagefolder --set data.root=DIR \\\n"
            "      --run-dir runs/t1                      # NAT's transfer: new heads, adaptation alone"),
    )
]
