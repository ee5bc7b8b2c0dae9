"""Summarise search runs for docs/RESULTS.md: hypervolume per iteration (mean and spread over seeds)
per policy, best accuracy found, and a plot. Reads only the run directories' search/history.json and
search/archive.json.

    python docs/scripts/search_hv.py runs/s-{natv2,nat,random}-{0,1,2} --plot docs/img/search-hv.png
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path, help="run directories named <prefix>-<policy>-<seed>")
    ap.add_argument("--plot", type=Path, default=None)
    args = ap.parse_args()
    hv: dict[str, list[list[float]]] = defaultdict(list)
    best: dict[str, list[float]] = defaultdict(list)
    evals: dict[str, list[int]] = defaultdict(list)
    for run in args.runs:
        policy = re.sub(r"^.*?-(\w+)-\d+$", r"\1", run.name)
        history = json.loads((run / "search" / "history.json").read_text())
        hv[policy].append([it["hv"] for it in history["iterations"]])
        evals[policy].append(history["iterations"][-1]["n_evaluations"])
        archive = json.loads((run / "search" / "archive.json").read_text())
        entries = archive["entries"] if isinstance(archive, dict) else archive
        best[policy].append(max(1.0 - e["objectives"]["err"] for e in entries))
    print("| policy | runs | evaluations | " + " | ".join(f"HV it {i}" for i in range(len(next(iter(hv.values()))[0]))) + " | best val top-1 (%) |")
    print("|---" * (4 + len(next(iter(hv.values()))[0])) + "|")
    for policy, curves in hv.items():
        a = np.array(curves)
        cells = " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in zip(a.mean(0), a.std(0)))
        b = np.array(best[policy]) * 100
        print(f"| {policy} | {len(curves)} | {sorted(set(evals[policy]))} | {cells} | {b.mean():.2f} ± {b.std():.2f} |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.6))
        for policy, curves in hv.items():
            a = np.array(curves)
            x = np.arange(a.shape[1])
            ax.plot(x, a.mean(0), "-o", ms=3, label=f"{policy} (n={len(curves)})")
            ax.fill_between(x, a.min(0), a.max(0), alpha=0.2)
        ax.set_xlabel("iteration (0 = initial archive)")
        ax.set_ylabel("hypervolume (fixed reference)")
        ax.set_title("CIFAR-10, err vs params, mean and min-max over seeds")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)


if __name__ == "__main__":
    main()
