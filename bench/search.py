"""Benchmark of the search loop's own work per iteration (everything but evaluation and adaptation).

    python bench/search.py [--archive 300] [--iterations 3] [--objectives err,params] [--distribution categorical]
                           [--threads 2] [--append]

Runs `run_search` with the NATv2 preset (LightGBM 10-fold ensemble, NSGA-II pop 100 x 20 generations,
subset-selection GA pop 500 x 200 generations, K = 25, bounded archive) on the NATv2 Tiny-ImageNet space
(r {48,56,64}, w {1.0,1.2}), with a synthetic evaluator that costs nothing, so the timings are the
loop's overhead: surrogate fit, EMO, subset selection, archive update, gene distributions. Pre-processing
is switched off (it is evaluation only) and the initial archive is the 300 subnets it would keep.
It also times the subset-selection fitness vectorised over the population against a per-individual
Python loop (the reference), in the same run. `--append` adds the table to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

STEPS = ("surrogate_fit", "emo", "subset", "update", "distribution")


def synthetic_accuracy(cost):
    def evaluate(cfgs):
        out = []
        for c in cfgs:
            noise = (int(c.digest(8), 16) % 1000) / 1000 - 0.5
            out.append(0.3 + 0.6 * (1 - math.exp(-cost.macs(c) / 3e7)) + 0.02 * noise)
        return out

    return evaluate


def subset_fitness_loop(selected, cand, front):
    """Reference: the same fitness, one individual at a time (how NSGANetV2's problem evaluates it)."""
    out = np.empty(len(selected))
    for i, sel in enumerate(selected):
        worst = 0.0
        for j in range(cand.shape[1]):
            vals = np.sort(np.concatenate([front[:, j], cand[sel, j]]))
            worst = max(worst, float(np.std(np.diff(vals))))
        out[i] = worst
    return out


def bench_subset_fitness(rng: np.random.Generator, reps: int = 20) -> tuple[float, float]:
    from natv2.search.subset import subset_fitness

    cand, front = rng.random((100, 1)), rng.random((60, 1))
    selected = np.stack([rng.choice(100, 25, replace=False) for _ in range(500)])
    assert np.allclose(subset_fitness(selected, cand, front), subset_fitness_loop(selected, cand, front))
    t0 = time.perf_counter()
    for _ in range(reps):
        subset_fitness(selected, cand, front)
    vec = (time.perf_counter() - t0) / reps
    t0 = time.perf_counter()
    for _ in range(max(1, reps // 5)):
        subset_fitness_loop(selected, cand, front)
    loop = (time.perf_counter() - t0) / max(1, reps // 5)
    return vec, loop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=int, default=300)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--objectives", default="err,params")
    ap.add_argument("--distribution", default="categorical")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

    from natv2.measure import cost_model
    from natv2.search import SearchConfig, run_search
    from natv2.space import SearchSpace

    space = SearchSpace(r=(48, 56, 64), w=(1.0, 1.2), extras={"n_classes": 200})
    evaluate = synthetic_accuracy(cost_model("ofa_mbv3", 200))
    objectives = args.objectives.split(",")
    t0 = time.perf_counter()
    res = run_search(space, evaluate, SearchConfig(policy="natv2", objectives=tuple(objectives), seed=args.seed,
                                                   archive_size=args.archive, preprocess_multiplier=0,
                                                   iterations=args.iterations, distribution=args.distribution))
    wall = time.perf_counter() - t0
    its = res.stats[1:]
    per_step = {s: [it["timings"].get(s, 0.0) for it in its] for s in STEPS}
    totals = [sum(it["timings"].get(s, 0.0) for s in STEPS) for it in its]
    vec, loop = bench_subset_fitness(np.random.default_rng(args.seed))

    cfg = res.config
    lines = [
        f"### search loop overhead per iteration ({dt.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs), Python {platform.python_version()}, "
        f"threads {args.threads}. Command: `python bench/search.py --archive {args.archive} --iterations {args.iterations} "
        f"--objectives {args.objectives} --distribution {args.distribution} --threads {args.threads}`",
        f"Settings: NATv2 preset, archive {cfg.archive_size} (bounded), K {cfg.candidates_per_iter}, surrogate {cfg.surrogate} "
        f"({cfg.features} features), EMO pop {cfg.emo_pop} x {cfg.emo_gens} gens, subset GA pop {cfg.subset_pop} x "
        f"{cfg.subset_gens} gens, top-N {cfg.top_n}, {cfg.distribution} distributions; synthetic evaluator.",
        "",
        "| step | iteration 1 (s) | later iterations, mean (s) |",
        "|---|---|---|",
    ]

    def later(v: list[float]) -> str:
        return f"{statistics.mean(v[1:]):.2f}" if len(v) > 1 else "-"

    for s in STEPS:
        lines.append(f"| {s} | {per_step[s][0]:.2f} | {later(per_step[s])} |")
    lines.append(f"| **total (goal < 15 s)** | **{totals[0]:.2f}** | **{later(totals)}** |")
    lines.append("")
    lines.append("Iteration 1 includes one-off costs: imports, and for >= 3 objectives the Riesz s-energy reference "
                 "directions (computed once per size and seed, then cached in memory and in ~/.cache/natv2/ref_dirs).")
    lines += [
        "",
        f"Whole run (initial archive of {args.archive} + {args.iterations} iterations, evaluator included): {wall:.1f} s. "
        f"Final HV {res.stats[-1]['hv']:.4f}.",
        f"Subset-selection fitness, 500 subsets of 25 from 100 candidates: vectorised {vec * 1e3:.2f} ms vs "
        f"per-individual loop {loop * 1e3:.1f} ms ({loop / vec:.0f}x).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        path = Path(__file__).with_name("RESULTS.md")
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n" + text + "\n")
        print(f"appended to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
