"""`natv2 report RUN_DIR`: the HTML report of a run directory (training curves, fronts, models)."""

from __future__ import annotations

import argparse

from natv2.cli.context import CliContext
from natv2.cli.registry import Command
from natv2.io.artifacts import REPORT_DIR, REPORT_INDEX


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir_arg", nargs="?", metavar="RUN_DIR", help="the run directory (same as --run-dir)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help=f"folder for {REPORT_INDEX} and figures/ (default: RUN_DIR/{REPORT_DIR})")
    parser.add_argument("--publish", action="store_true",
                        help="a copy to publish on its own (with --out): file names instead of links into the run "
                             "directory, and no path of this machine")


def _run(ctx: CliContext) -> int:
    from natv2.errors import RunDirError
    from natv2.report import generate_report

    run_dir = getattr(ctx.args, "run_dir_arg", None) or ctx.args.run_dir
    if not run_dir:
        raise RunDirError("no run directory given", "name the run: natv2 report RUN_DIR")
    try:
        report = generate_report(run_dir, ctx.args.out, publish=ctx.args.publish)
    except OSError as err:
        from natv2.errors import as_storage_error

        where = ctx.args.out or f"{run_dir}/report"
        storage = as_storage_error(err, fix=f"natv2 cannot write {where}; write the report elsewhere: "
                                            f"natv2 report {run_dir} --out DIR (a folder you can write)")
        if storage is None:
            raise
        raise storage from None
    for problem in report.problems:
        print(f"natv2: warning: {problem}", file=ctx.stderr)
    if ctx.verbosity >= 0:
        if report.absent:
            ctx.echo("not in this run: " + "; ".join(title for title, _ in report.absent))
        ctx.echo(f"sections: {', '.join(report.sections) or 'none'} ({len(report.figures)} figures)")
    ctx.echo(f"report: {report.index}")
    return 0


COMMANDS = [
    Command(
        "report",
        "write a run's HTML report: training curves, fronts per iteration, hypervolume, final models",
        run=_run,
        configure=_configure,
        description=(
            f"Build a self-contained HTML page ({REPORT_INDEX} plus PNG figures) from the files of a run directory:\n"
            "run summary and stage timings, supernet training curves per phase, the Pareto front of every\n"
            "search iteration on fixed axes, hypervolume and surrogate quality per iteration, and the final\n"
            "models (inherited vs fine-tuned accuracy, params, MACs, latency, links to the exported files).\n"
            "Stages that have not run are left out; a damaged file skips its section with a note (and a\n"
            "warning here). Works offline; safe to run while the run is still going."),
        epilog=("examples:\n  natv2 report runs/quickstart-20250101-120000\n"
                f"  natv2 report RUN --out /tmp/run-report     (then open /tmp/run-report/{REPORT_INDEX})\n"
                "  natv2 report RUN --out docs/results/run-report --publish"),
    )
]
