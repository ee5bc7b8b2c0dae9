"""Benchmark: subnet evaluations per minute on the CIFAR-10 validation split (5,000 images, 32 px), CPU.

    NATV2_TEST_DATA=../shared/data python bench/evaluate.py [--subnets 8] [--threads 2]
                                                           [--supernet ofa_mbv3] [--append]

One evaluation = activate a subnet, re-calibrate its BN on the fixed calibration subset (960 training
images, batches of 100, training transform at 32 px) and measure top-1 on the 5,000 held-out
validation images. Compared in one run, on the same random subnets, interleaved:

  naive      the straightforward path (natv2.measure.accuracy.reference_accuracy): extract ->
             natv2.supernets.recalibrate_bn -> evaluate in data.eval_batch_size batches (the data
             module keeps the prepared evaluation and calibration batches, so no decoding is timed);
  fast       SupernetEvaluator with every speed-up on (what the search uses);
  fast - X   the fast path with one speed-up switched off, to show what each one buys.

The fast path's one-time preparation per resolution (inputs gathered, head outputs cached) is
timed separately. Accuracies of the two paths are compared (they must agree). Weights are random
(accuracy does not matter for speed). `--append` adds the table to bench/RESULTS.md.
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

VARIANTS = {
    "fast": {},
    "fast - head cache": {"cache_head": False},
    "fast - fast calibration": {"fast_calibration": False},
    "fast - BN folding": {"fold_bn": False},
    "fast - channels_last": {"channels_last": False},
    "fast, eval batch 100": {"batch_size": 100},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subnets", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--supernet", default="ofa_mbv3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=2, help="timings per (subnet, path); the fastest is kept")
    ap.add_argument("--variants", default="all", help="comma-separated variant names, or all")
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from natv2.measure.accuracy import SupernetEvaluator, reference_accuracy
    from natv2.supernets import create

    load = os.getloadavg()[0]
    data = cifar10_eval_data(args.seed)
    torch.manual_seed(args.seed)
    net = create(args.supernet, data.n_classes, r=[32]).eval()
    rng = np.random.default_rng(args.seed)
    cfgs = [net.space.sample(rng) for _ in range(args.subnets)]
    names = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",")]

    # warm-up: the data module's prepared batches, and each evaluator's per-resolution caches
    reference_accuracy(net, cfgs[0], data)
    evaluators, prep_s = {}, {}
    for name in names:
        ev = SupernetEvaluator(net, data, **VARIANTS[name])
        t0 = time.perf_counter()
        ev._inputs("val", 32)
        if ev.cache_head:
            ev._head("val", 32, ev._inputs("val", 32))
        prep_s[name] = time.perf_counter() - t0
        evaluators[name] = ev

    paths = ["naive", *names]
    times: dict[str, list[float]] = {n: [] for n in paths}  # wall seconds per subnet (min over repeats)
    cpu: dict[str, list[float]] = {n: [] for n in paths}  # process CPU seconds per subnet (min over repeats)
    accs: dict[str, list[float]] = {n: [] for n in paths}

    def run(name: str, c) -> float:
        return reference_accuracy(net, c, data) if name == "naive" else evaluators[name]([c])[0]

    for i, c in enumerate(cfgs):
        best_w, best_c = {n: float("inf") for n in paths}, {n: float("inf") for n in paths}
        for rep in range(args.repeats):
            for name in paths:
                w0, c0 = time.perf_counter(), time.process_time()
                acc = run(name, c)
                best_w[name] = min(best_w[name], time.perf_counter() - w0)
                best_c[name] = min(best_c[name], time.process_time() - c0)
                if rep == 0:
                    accs[name].append(acc)
        for n in paths:
            times[n].append(best_w[n])
            cpu[n].append(best_c[n])
        print(f"subnet {i + 1}/{len(cfgs)}: " + ", ".join(f"{n} {times[n][-1]:.2f}s" for n in paths), file=sys.stderr)

    naive_med = statistics.median(times["naive"])
    naive_cpu = statistics.median(cpu["naive"])
    worst = max(abs(a - b) for n in names for a, b in zip(accs[n], accs["naive"]))
    # exactness of the default fast path: logits against the naive path's, subnet by subnet
    from natv2.measure.accuracy import reference_logits

    fast = evaluators.get("fast") or SupernetEvaluator(net, data)
    dmax, scale, agree, n_img = 0.0, 0.0, 0, 0
    for c in cfgs:
        a, la = reference_logits(net, c, data)
        b, lb = fast.logits(c)
        assert torch.equal(la, lb)
        dmax, scale = max(dmax, float((a - b).abs().max())), max(scale, float(a.abs().max()))
        agree += int((a.argmax(1) == b.argmax(1)).sum())
        n_img += len(la)
    rows = []
    for n in times:
        med = statistics.median(times[n])
        cmed = statistics.median(cpu[n])
        rows.append(f"| {n} | {med:.3f} | {60.0 / med:.1f} | {naive_med / med:.2f}x | {cmed:.3f} | {naive_cpu / cmed:.2f}x | "
                    f"{'-' if n == 'naive' else f'{prep_s[n]:.2f}'} |")
    cmd = (f"NATV2_TEST_DATA=../shared/data python bench/evaluate.py --subnets {args.subnets} --threads {args.threads} "
           f"--supernet {args.supernet} --repeats {args.repeats}")
    text = "\n".join([
        f"\n### subnet evaluation speed, CIFAR-10 val 5,000 images at 32 px ({dt.datetime.now():%Y-%m-%dT%H:%M})\n",
        machine_line(load, args.threads, cmd),
        f"Supernet {args.supernet} (random weights, 10 classes, r=32), {args.subnets} uniformly sampled subnets; per subnet "
        f"the paths run interleaved, {args.repeats} times, fastest kept (wall and process-CPU time separately); medians over "
        "subnets. BN re-calibration on 960 training images (batches of 100); data.eval_batch_size 500 for the naive path.",
        "",
        "| path | median wall s / subnet | evaluations / min | vs naive (wall) | median CPU s / subnet | vs naive (CPU) | one-time prep s |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Exactness (fast vs naive, same subnets): largest |logit difference| {dmax:.1e} (logits up to {scale:.2f}); "
        f"identical top-1 predictions for {agree}/{n_img} images; largest |accuracy difference| over all variants {worst:.1e} "
        "(random weights give near-tied logits, so float rounding can flip a few predictions).",
    ])
    publish(text, args.append)


if __name__ == "__main__":
    main()
