"""Benchmarks of natv2.measure: closed-form cost rate, and latency-table accuracy on random subnets.

    python bench/latency.py rate [--n 20000]
    python bench/latency.py lut --arch ofa_mbv3 --r 32 --threads 2 --n 50 --seed 0 [--device cpu] [--out lut.json]

`rate` times `cost_model(arch).params(cfg)` + `.macs(cfg)` on fresh random configs (cold: every config
new, per-layer cache warming up) and on the same configs again (warm: per-config cache hits).
`lut` builds a LatencyTable on this machine, then compares its predictions with measured latency of
`--n` random extracted subnets (validate_table) and prints a markdown summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time

import numpy as np
import torch

from natv2.io import atomic_write_json
from natv2.measure import LatencyTable, TableValidation, cost_model, validate_table
from natv2.measure.costs import layer_cost
from natv2.measure.latency import device_name
from natv2.space import SearchSpace


def bench_rate(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cases = [
        ("ofa_mbv3", SearchSpace(r=tuple(range(128, 225, 4)))),
        ("ofav2_ee_dp", SearchSpace(r=tuple(range(48, 65, 4)), nd=(1, 2, 3, 4, 5), nw=tuple(range(1, 8)))),
    ]
    print(f"| arch | configs | cold configs/s | warm configs/s |\n|---|---|---|---|")
    for arch, space in cases:
        layer_cost.cache_clear()
        cfgs = [space.sample(rng) for _ in range(n)]
        model = type(cost_model(arch, 1000))(arch, 1000)  # a fresh model: empty per-config cache
        t0 = time.perf_counter()
        for c in cfgs:
            model.params(c)
            model.macs(c)
        cold = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for c in cfgs:
            model.params(c)
            model.macs(c)
        warm = n / (time.perf_counter() - t0)
        print(f"| {arch} | {n} | {cold:,.0f} | {warm:,.0f} |")


def bench_lut(args: argparse.Namespace) -> None:
    import natv2.supernets as supernets

    torch.manual_seed(args.seed)
    sn = supernets.create(args.arch, args.n_classes, args.width, r=[args.r])
    t0 = time.perf_counter()
    table = LatencyTable.build(
        args.arch, args.n_classes, args.width, (args.r,), device=args.device, threads=args.threads,
        warmup=args.warmup, runs=args.runs, space=sn.space, rounds=args.rounds,
    )
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    calibrated = table.calibrate(sn, n=args.n_calib)
    cal_s = time.perf_counter() - t0
    if args.out:
        calibrated.save(args.out)
    t0 = time.perf_counter()
    rep = validate_table(table, sn, n=args.n, seed=args.seed)  # raw per-layer sums
    val_s = time.perf_counter() - t0
    cal = calibrated.meta["calibration"]
    rep_cal = TableValidation.from_arrays(
        [cal["scale"] * p + cal["offset_ms"] for p in rep.predicted_ms], rep.measured_ms, rep.configs, {"calibration": cal}
    )
    if args.report:
        atomic_write_json(args.report, {"raw": rep.to_dict(), "calibrated": rep_cal.to_dict(), "table_meta": calibrated.meta})
    print(f"date: {dt.date.today()}  machine: {platform.node()} / {device_name(args.device)}  torch {torch.__version__}")
    print(f"command: python {' '.join(sys.argv)}")
    print(
        f"table: {table.meta['n_entries']} layers, built in {build_s:.1f} s (warmup {args.warmup}, runs {args.runs}, rounds {args.rounds}); "
        f"calibration on {args.n_calib} other subnets {cal_s:.1f} s (scale {cal['scale']:.3f}, offset {cal['offset_ms']:+.3f} ms); "
        f"validation of {rep.n} subnets {val_s:.1f} s"
    )
    print(
        "| arch | r | threads | device | n | prediction | mean abs err % | median abs err % | max abs err % "
        "| mean signed err % | Spearman | Kendall | measured ms (min-max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    m = np.asarray(rep.measured_ms)
    for label, r in (("sum of layers", rep), ("calibrated", rep_cal)):
        print(
            f"| {args.arch} | {args.r} | {table.meta['threads']} | {args.device} | {r.n} | {label} | {r.mean_abs_pct_error:.1f} | "
            f"{r.median_abs_pct_error:.1f} | {r.max_abs_pct_error:.1f} | {r.mean_signed_pct_error:+.1f} | "
            f"{r.spearman:.3f} | {r.kendall:.3f} | {m.min():.2f}-{m.max():.2f} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("rate")
    r.add_argument("--n", type=int, default=20000)
    r.add_argument("--seed", type=int, default=0)
    lut = sub.add_parser("lut")
    lut.add_argument("--arch", default="ofa_mbv3")
    lut.add_argument("--n-classes", type=int, default=10)
    lut.add_argument("--width", type=float, default=1.0)
    lut.add_argument("--r", type=int, default=32)
    lut.add_argument("--threads", type=int, default=2)
    lut.add_argument("--device", default="cpu")
    lut.add_argument("--n", type=int, default=50)
    lut.add_argument("--seed", type=int, default=0)
    lut.add_argument("--warmup", type=int, default=10)
    lut.add_argument("--runs", type=int, default=50)
    lut.add_argument("--rounds", type=int, default=5, help="interleaved rounds the runs are split over")
    lut.add_argument("--n-calib", type=int, default=10, help="subnets for the affine calibration (other seed)")
    lut.add_argument("--out", default=None, help="save the (calibrated) table here (.json / .yaml)")
    lut.add_argument("--report", default=None, help="save predictions and measurements here (.json)")
    args = p.parse_args()
    if args.what == "rate":
        bench_rate(args.n, args.seed)
    else:
        bench_lut(args)


if __name__ == "__main__":
    main()
