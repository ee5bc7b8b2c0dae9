"""`natv2 latency-table OUT`: build, calibrate and validate a latency look-up table on this machine."""

from __future__ import annotations

import argparse

from natv2.cli.context import CliContext
from natv2.cli.registry import Command


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace("[", "").replace("]", "").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers, e.g. 32,40") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give positive resolutions, e.g. 32,40")
    return values


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="table file to write (.json, or .yaml/.yml)")
    what = parser.add_argument_group("what to cover (default: the config's train section)")
    what.add_argument("--supernet", metavar="NAME", help="registered supernet (default: train.supernet)")
    what.add_argument("--width-mult", type=float, metavar="W", help="width multiplier (default: train.width_mult)")
    what.add_argument("--resolutions", type=_ints, metavar="R,R",
                      help="input resolutions (default: train.space.r, else the supernet's own)")
    what.add_argument("--n-classes", type=int, metavar="N", help="classifier size (default: the config's dataset)")
    how = parser.add_argument_group("how to time")
    how.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="device to time on (default cpu)")
    how.add_argument("--int8", action="store_true",
                     help=("time the INT8 model instead of float torch: every layer and every calibration/validation "
                           "subnet is exported to ONNX, statically quantized (uint8 activations, int8 weights) and "
                           "run in onnxruntime on the CPU (needs onnxruntime; refuses --device cuda)"))
    how.add_argument("--threads", type=int, default=1,
                     help="torch threads while timing (default 1); with --int8, onnxruntime's intra-op threads")
    how.add_argument("--batch-size", type=int, default=1, help="images per timed forward (default 1)")
    how.add_argument("--warmup", type=int, default=10, help="untimed passes per layer (default 10)")
    how.add_argument("--runs", type=int, default=50, help="timed passes per layer (default 50; the median is kept)")
    how.add_argument("--rounds", type=int, default=5, help="interleaved visits the runs are spread over (default 5)")
    how.add_argument("--calibrate", type=int, default=10, metavar="N",
                     help="fit the per-layer sum to N measured random subnets (default 10; 0: off)")
    how.add_argument("--validate", type=int, default=20, metavar="N",
                     help="report the error on N other measured random subnets (default 20; 0: off)")
    how.add_argument("--seed", type=int, default=0, help="seed of the random subnets")


def _n_classes(ctx: CliContext) -> int:
    if ctx.args.n_classes is not None:
        return int(ctx.args.n_classes)
    from natv2.data import load_dataset

    return load_dataset(ctx.config().data).num_classes


def _check(ctx: CliContext) -> None:
    from natv2.errors import ConfigError

    a = ctx.args
    for name in ("threads", "batch_size", "runs", "rounds"):
        if getattr(a, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} {getattr(a, name)} must be >= 1", "give a positive integer")
    for name in ("warmup", "calibrate", "validate"):
        if getattr(a, name) < 0:
            raise ConfigError(f"--{name} {getattr(a, name)} must be >= 0", "give 0 or more")
    if a.calibrate == 1:
        raise ConfigError("--calibrate 1 cannot fit a line", "use --calibrate 0 (off) or 2 or more")
    if a.validate == 1:
        raise ConfigError("--validate 1 gives no rank statistics", "use --validate 0 (off) or 2 or more")
    if a.int8:
        import torch

        from natv2.measure.timing_backends import ONNXRUNTIME_INT8, get_backend

        get_backend(ONNXRUNTIME_INT8).check_device(torch.device(a.device))
    if a.out.rsplit(".", 1)[-1] not in ("json", "yaml", "yml"):
        raise ConfigError(f"{a.out}: a table file ends in .json, .yaml or .yml", "e.g. latency_table.json")


def _run(ctx: CliContext) -> int:
    from natv2.measure.lut_build import TableRequest, build_calibrated_table
    from natv2.measure.timing_backends import ONNXRUNTIME_INT8, TORCH

    _check(ctx)
    a, train = ctx.args, ctx.config().train
    space = {k: v for k, v in dict(train.space).items() if k != "r"}
    resolutions = a.resolutions or tuple(int(r) for r in (train.space.get("r") or ()))
    if not resolutions:
        from natv2.supernets import get_variant

        resolutions = get_variant(a.supernet or train.supernet).resolutions
    req = TableRequest(supernet=a.supernet or train.supernet, n_classes=_n_classes(ctx),
                       width_mult=a.width_mult or train.width_mult, resolutions=tuple(resolutions), space=space,
                       device=a.device, threads=a.threads, batch_size=a.batch_size, warmup=a.warmup, runs=a.runs,
                       rounds=a.rounds, calibrate=a.calibrate, validate=a.validate, seed=a.seed,
                       backend=ONNXRUNTIME_INT8 if a.int8 else TORCH)
    log = ctx.echo if ctx.verbosity >= 0 else (lambda msg: None)
    table, report = build_calibrated_table(req, log)
    path = table.save(a.out).resolve()
    cal = table.meta.get("calibration")
    if cal:
        ctx.echo(f"calibration: measured = {cal['scale']:.3f} x sum + {cal['offset_ms']:.3f} ms ({cal['n']} subnets)")
    if report is not None:
        ctx.echo(f"validation: {report.summary()}")
    ctx.echo(f"wrote {path} ({len(table.entries)} layers, {table.precision} via {table.backend}, "
             f"{table.meta['device_name']}, {table.meta['threads']} threads)")
    ctx.echo(f"search with it: natv2 search RUN --set 'search.objectives=[err,lut_latency]' "
             f"--set search_stage.latency_table={path}")
    return 0


COMMANDS = [
    Command(
        "latency-table",
        "build, calibrate and validate a latency look-up table on this machine",
        run=_run,
        configure=_configure,
        description=("Time every distinct layer a supernet can hold at the given resolutions, on this machine,\n"
                     "once each (OFA's per-layer look-up table). A subnet's latency is then predicted as the sum\n"
                     "of its layers, fitted (--calibrate) to measured whole subnets, and checked (--validate) on\n"
                     "other random subnets: the report gives the error in percent and the rank correlation.\n"
                     "The search uses the table through the 'lut_latency' objective. Random weights are timed,\n"
                     "so neither a trained supernet nor the dataset is needed (except for the class count).\n"
                     "--int8 builds the table for the INT8 model instead: each layer, and each calibration and\n"
                     "validation subnet, is exported to ONNX, statically quantized and timed in onnxruntime on\n"
                     "the CPU (--threads: onnxruntime's intra-op threads)."),
        epilog=("examples:\n  natv2 latency-table lut.json --preset cifar10\n"
                "  natv2 latency-table lut.yaml --supernet ofa_mbv3 --resolutions 160,192,224 --n-classes 1000 --threads 4\n"
                "  natv2 latency-table lut-int8.json --int8 --preset cifar10\n"
                "  natv2 search RUN --set 'search.objectives=[err,lut_latency]' --set search_stage.latency_table=lut.json"),
    )
]
