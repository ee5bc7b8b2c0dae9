"""The front before and after post-processing (docs/RESULTS.md, issue 6), from one run directory:
test top-1 of every fine-tuned subnet with inherited weights (BN re-calibrated) and after NATv2's
two-step fine-tuning, the hypervolume of both fronts on the search's fixed bounds, and a plot.

Reads RUN/models/finetune.json and RUN/search/config.json only.

    python docs/scripts/finetune_front.py runs/s-natv2-0 --plot docs/img/finetune-front-c10.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from plot_style import log_cost_axis

from natv2.search.indicators import bounds_for, hypervolume, non_dominated


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()
    subnets = [s for s in json.loads((args.run / "models" / "finetune.json").read_text())["subnets"] if s["variant"] == "single"]
    search = json.loads((args.run / "search" / "config.json").read_text())["search"]
    subnets.sort(key=lambda s: s["params"])
    costs = ("params", "macs")
    before = np.array([s["before"]["test"]["top1"] for s in subnets])
    after = np.array([s["after"]["test"]["top1"] for s in subnets])
    C = np.array([[s[c] for c in costs] for s in subnets], dtype=float)

    print("| subnet | exit | params | MACs | search val top-1 | test top-1 inherited | test top-1 fine-tuned | gain | E* | minutes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for s, b, a in zip(subnets, before, after):
        print(f"| {s['name']} | {s['subnet'].get('nd', '-')} | {s['params'] / 1e3:.0f}k | {s['macs'] / 1e6:.2f}M | "
              f"{100 * s['search']['accuracy']:.2f} | {100 * b:.2f} | {100 * a:.2f} | {100 * (a - b):+.2f} | "
              f"{s['e_star']} | {s['seconds']['total'] / 60:.1f} |")
    gain = 100 * (after - before)
    print(f"\n{len(subnets)} subnets: gain {gain.mean():+.2f} points on average (min {gain.min():+.2f}, max {gain.max():+.2f})")
    for j, c in enumerate(costs):
        objs = ("err", c)
        bounds = bounds_for(objs, search["hv_bounds"])
        hv = [hypervolume(np.c_[1 - acc, C[:, j]], bounds, float(search["hv_ref"])) for acc in (before, after)]
        n_front = [len(non_dominated(np.c_[1 - acc, C[:, j]])) for acc in (before, after)]
        print(f"HV (err, {c}) on the search's fixed bounds: inherited {hv[0]:.4f} ({n_front[0]} non-dominated) -> "
              f"fine-tuned {hv[1]:.4f} ({n_front[1]} non-dominated)")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.9))
        for ax, j, c in zip(axes, range(2), costs):
            x = C[:, j] / 1e6
            for acc, label, style in ((before, "inherited weights", dict(mfc="none")), (after, "fine-tuned (two-step)", {})):
                F = np.c_[1 - acc, C[:, j]]
                idx = non_dominated(F)
                idx = idx[np.argsort(C[idx, j])]
                line = ax.plot(x, 100 * acc, "o", ms=5, label=label, **style)[0]
                ax.step(x[idx], 100 * acc[idx], where="post", color=line.get_color(), lw=1)
            for xi, b, a in zip(x, before, after):
                ax.annotate("", (xi, 100 * a), (xi, 100 * b), arrowprops=dict(arrowstyle="->", color="0.6", lw=0.8))
            log_cost_axis(ax, f"{c} (M, log scale)")
            ax.set_ylabel("test top-1 (%)")
            ax.set_title(f"front before / after post-processing: accuracy vs {c}")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
