"""Benchmark: what ranking subnets on fewer validation images costs and buys (`search_stage.val_images`).

    NATV2_TEST_DATA=../shared/data python bench/fidelity.py --supernet RUN/train/supernet \\
        [--subnets 60] [--images 500,1000,2000] [--threads 1] [--append]

A trained supernet is needed (with random weights every subnet scores ~10 % and ranks are noise): the
`cifar10` preset's `natv2 run --preset cifar10 --run-dir RUN` writes one. The same uniformly sampled
subnets (the supernet's whole space) are evaluated with the search's fast evaluator on the whole
CIFAR-10 validation split (5,000 images) and on class-stratified subsets of it; per subnet the
fidelities run interleaved, so the machine's load hits them alike. Reported per fidelity: median wall
seconds per evaluation and the speed-up against the whole split, and how well its accuracies rank the
subnets as the whole split does: Kendall tau, Spearman rho, and the share of the whole split's best
third that the subset also puts in its best third (what a survival step keeps). BN re-calibration
(960 training images) is part of every evaluation, so the cost does not fall in proportion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time

import numpy as np
from benchlib import cifar10_eval_data, machine_line, publish



def top_overlap(full: np.ndarray, cheap: np.ndarray, frac: float = 1 / 3) -> float:
    """Share of the `frac` best subnets by `full` that `cheap` also ranks among its `frac` best."""
    k = max(1, int(round(len(full) * frac)))
    best_full = set(np.argsort(-full, kind="stable")[:k].tolist())
    best_cheap = set(np.argsort(-cheap, kind="stable")[:k].tolist())
    return len(best_full & best_cheap) / k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--supernet", required=True, help="a trained natv2 supernet (stem or .safetensors)")
    ap.add_argument("--subnets", type=int, default=60)
    ap.add_argument("--images", default="500,1000,2000", help="comma-separated subset sizes")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", action="store_true", help="add the table to bench/RESULTS.md")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from natv2.measure.accuracy import SupernetEvaluator
    from natv2.predictors.metrics import rank_metrics
    from natv2.supernets import load_supernet

    load = os.getloadavg()[0]
    data = cifar10_eval_data(args.seed)
    net = load_supernet(args.supernet).eval()
    rng = np.random.default_rng(args.seed)
    cfgs = [net.space.sample(rng) for _ in range(args.subnets)]
    sizes = [int(s) for s in args.images.split(",")]
    names = ["whole split", *[f"{n} images" for n in sizes]]
    evaluators = {"whole split": SupernetEvaluator(net, data)}
    evaluators.update({f"{n} images": SupernetEvaluator(net, data, max_images=n) for n in sizes})
    for ev in evaluators.values():  # per-resolution preparation is one-time: not timed
        for r in sorted({c.r for c in cfgs}):
            ev([next(c for c in cfgs if c.r == r)])

    times: dict[str, list[float]] = {n: [] for n in names}
    accs: dict[str, list[float]] = {n: [] for n in names}
    for i, c in enumerate(cfgs):
        for name in names:
            t0 = time.perf_counter()
            accs[name].append(evaluators[name]([c])[0])
            times[name].append(time.perf_counter() - t0)
        print(f"subnet {i + 1}/{len(cfgs)}: " + ", ".join(f"{n} {accs[n][-1]:.4f} {times[n][-1]:.2f}s" for n in names),
              file=sys.stderr)

    full = np.asarray(accs["whole split"])
    ref = statistics.median(times["whole split"])
    rows = []
    for name in names:
        a = np.asarray(accs[name])
        med = statistics.median(times[name])
        m = rank_metrics(full, a)
        rows.append(f"| {name} | {med:.3f} | {ref / med:.2f}x | {m['kendall']:.3f} | {m['spearman']:.3f} | "
                    f"{top_overlap(full, a):.2f} | {float(np.mean(np.abs(a - full))) * 100:.2f} |")
    cmd = (f"NATV2_TEST_DATA=../shared/data python bench/fidelity.py --supernet {args.supernet} --subnets {args.subnets} "
           f"--images {args.images} --threads {args.threads}")
    text = "\n".join([
        f"\n### ranking on fewer validation images (search_stage.val_images), CIFAR-10 ({dt.datetime.now():%Y-%m-%d})\n",
        machine_line(load, args.threads, cmd),
        f"{args.subnets} uniformly sampled subnets of the trained supernet (r {sorted(set(net.space.r))}); top-1 on the "
        f"whole validation split ({len(full)} subnets, {full.min() * 100:.1f}-{full.max() * 100:.1f} %) against class-"
        "stratified subsets; fidelities interleaved per subnet; medians over subnets.",
        "",
        "| fidelity | median wall s / evaluation | speed-up | Kendall tau vs whole | Spearman rho | best third kept | mean abs difference (points) |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ])
    publish(text, args.append)


if __name__ == "__main__":
    main()
