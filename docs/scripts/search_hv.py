"""Summarise search runs for docs/RESULTS.md: hypervolume per iteration (mean and spread over seeds)
per policy, for every objective set (all objectives, and err against each cost alone), the best
accuracy found, and plots (HV per iteration; the final fronts, accuracy against each cost).

Reads only the run directories: search/config.json (fixed HV bounds and reference point),
search/iter_XXX/archive.json (the archive after each iteration, as evaluated with that iteration's
weights) and search/history.json.

    python docs/scripts/search_hv.py runs/s-{natv2,nat,random}-{0,1,2} \
        --plot docs/img/search-hv.png --fronts docs/img/search-fronts.png
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from plot_style import log_cost_axis

from natv2.search.indicators import bounds_for, hypervolume, non_dominated


def policy_of(run: Path) -> str:
    return re.sub(r"^.*?-(\w+)-\d+$", r"\1", run.name)


def read_run(run: Path) -> dict:
    """Objective names, HV bounds/reference and the per-iteration objective matrices of one run."""
    cfg = json.loads((run / "search" / "config.json").read_text())
    names = list(cfg["objectives"])
    cfg = cfg["search"]
    iters = sorted((run / "search").glob("iter_*/archive.json"))
    F = []
    for path in iters:
        data = json.loads(path.read_text())
        F.append(np.array([[e["objectives"][n] for n in names] for e in data["entries"]], dtype=float))
    history = json.loads((run / "search" / "history.json").read_text())
    records = [json.loads(line) for line in (run / "search" / "journal.jsonl").read_text().splitlines()
               if '"type": "eval"' in line or '"type":"eval"' in line]
    steps = [r.get("step", "") for r in records]
    # every NEW evaluation in the order it was made: (err, costs...) as measured then
    evaluated = np.array([[1.0 - float(r["acc"]), *map(float, r["costs"])] for r in records if "reeval" not in r.get("step", "")])
    new = sum("reeval" not in s for s in steps)
    # cumulative NEW evaluations (initial archive, then each iteration's candidates) after each iteration
    per_iter = [sum(not s.startswith("it") for s in steps)]  # init, and NATv2's pre-processing ("pre")
    for it in range(1, len(F)):
        per_iter.append(per_iter[-1] + sum(s == f"it{it:03d}/cand" for s in steps))
    seed = int(re.sub(r"^.*-(\d+)$", r"\1", run.name)) if re.search(r"-\d+$", run.name) else 0
    return {"names": names, "bounds": cfg["hv_bounds"], "ref": float(cfg["hv_ref"]), "F": F, "seed": seed,
            "evals": f"{new}+{len(steps) - new}", "new_evals": per_iter, "history": history["iterations"],
            "timings": recorded_timings(run, history["iterations"]), "evaluated": evaluated}


def recorded_timings(run: Path, history: list[dict]) -> list[dict[str, float]]:
    """Per iteration, the largest seconds recorded per step in history.json or in any `iteration` event of
    events.jsonl. Searches before natv2 journaled each evaluation's seconds rewrote history.json with the
    near-zero replay times when resumed; the events of the attempt that did the work keep the real ones."""
    out = [dict((it.get("timings") or {})) for it in history]
    events = run / "events.jsonl"
    lines = events.read_text().splitlines() if events.exists() else []
    for line in lines:
        ev = json.loads(line)
        data = ev.get("data") or {}
        i = data.get("iteration")
        if ev.get("event") == "iteration" and isinstance(i, int) and 0 <= i < len(out):
            for key, sec in (data.get("timings") or {}).items():
                out[i][key] = max(out[i].get(key, 0.0), float(sec))
    return out


def hv_at(counts: list[int], values: np.ndarray, n: int) -> float:
    """HV of the archive after the last iteration whose cumulative new evaluations are <= n."""
    idx = [i for i, c in enumerate(counts) if c <= n]
    return float(values[idx[-1]]) if idx else float("nan")


def time_split(run: dict) -> dict[str, float]:
    """Seconds a run spent, summed over iterations, in four parts (see `recorded_timings`)."""
    parts = {"evaluate": ("evaluate",), "re-evaluate": ("reeval",), "adapt": ("adapt",)}
    out = {k: 0.0 for k in (*parts, "surrogate+NSGA+rest")}
    for timings in run["timings"]:
        for key, sec in timings.items():
            name = next((k for k, keys in parts.items() if key in keys), "surrogate+NSGA+rest")
            out[name] += float(sec)
    out["total"] = sum(out.values())
    return out


def projections(names: list[str]) -> list[tuple[str, ...]]:
    """All objectives together, then err against each cost alone (when there are several costs)."""
    out = [tuple(names)]
    if len(names) > 2:
        out += [("err", c) for c in names[1:]]
    return out


def hv_of(run: dict, F: np.ndarray, objs: tuple[str, ...]) -> float:
    cols = [run["names"].index(o) for o in objs]
    return hypervolume(F[:, cols], bounds_for(objs, run["bounds"]), run["ref"])


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"mean": round(float(v.mean()), 5), "std": round(float(v.std()), 5), "seeds": int(v.size)}


def summarise(runs: dict[str, list[dict]], final: dict[str, np.ndarray], grid: list[int], at_evals: dict[str, np.ndarray],
              tgrid: list[float], at_times: dict[str, list[list[float]]]) -> dict:
    """The figures a results file keeps: per policy, HV of all objectives (final, at equal new evaluations,
    at equal wall time) as mean / std over seeds, the run time, and each pair's final difference."""
    out: dict = {"policies": {}, "differences": []}
    for p, rs in runs.items():
        out["policies"][p] = {
            "final_hv": _stats(final[p][:, -1]),
            "hv_at_new_evaluations": {str(n): _stats(at_evals[p][:, k]) for k, n in enumerate(grid)},
            "hv_at_minutes": {f"{t / 60:g}": _stats(v) for t, v in zip(tgrid, at_times[p]) if v},
            "evaluations_new_plus_reevaluated": sorted({r["evals"] for r in rs}),
            "seconds": round(float(np.mean([time_split(r)["total"] for r in rs])), 1),
        }
    names = list(runs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            fa, fb = final[a][:, -1], final[b][:, -1]
            row = {"pair": f"{a} - {b}", **_difference(fa, fb, "final_hv_difference")}
            at = {"at_new_evaluations": [(str(n), at_evals[a][:, k], at_evals[b][:, k]) for k, n in enumerate(grid)],
                  "at_minutes": [(f"{t / 60:g}", np.array(va), np.array(vb)) for t, va, vb in zip(tgrid, at_times[a], at_times[b])
                                 if len(va) == len(runs[a]) and len(vb) == len(runs[b])]}
            for key, points in at.items():
                row[key] = {label: _difference(x, y, "difference") for label, x, y in points}
            out["differences"].append(row)
    return out


def _difference(a: np.ndarray, b: np.ndarray, name: str) -> dict:
    """Mean difference of two policies' HVs, against the sum of their standard deviations over seeds."""
    d, spread = float(a.mean() - b.mean()), float(a.std() + b.std())
    return {name: round(d, 5), "sum_of_std": round(spread, 5), "exceeds_spread": abs(d) > spread}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path, help="run directories named <prefix>-<policy>-<seed>")
    ap.add_argument("--plot", type=Path, default=None, help="PNG: HV per iteration, one panel per objective set")
    ap.add_argument("--fronts", type=Path, default=None, help="PNG: final fronts, accuracy against each cost")
    ap.add_argument("--json", type=Path, default=None,
                    help="write policy -> seed -> [{evaluations, hv}] per iteration (HV of all objectives)")
    ap.add_argument("--summary-json", type=Path, default=None,
                    help="write per policy: final HV, HV at equal new evaluations and at equal wall time (mean, std, "
                         "seeds), seconds, and every pair's final difference against the seed spread")
    ap.add_argument("--title", default="CIFAR-10", help="the dataset, in the HV plot's title")
    args = ap.parse_args()
    runs: dict[str, list[dict]] = defaultdict(list)
    for path in args.runs:
        runs[policy_of(path)].append(read_run(path))
    first = next(iter(runs.values()))[0]
    sets = projections(first["names"])
    n_it = min(len(r["F"]) for rs in runs.values() for r in rs)
    hv = {p: {s: np.array([[hv_of(r, r["F"][i], s) for i in range(n_it)] for r in rs]) for s in sets} for p, rs in runs.items()}
    for s in sets:
        print(f"\nHV of ({', '.join(s)}), mean ± std over seeds\n")
        print("| policy | runs | evaluations (new+re-evaluated) | " + " | ".join(f"it {i}" for i in range(n_it)) + " |")
        print("|---" * (3 + n_it) + "|")
        for p, rs in runs.items():
            a = hv[p][s]
            cells = " | ".join(f"{m:.4f} ± {sd:.4f}" for m, sd in zip(a.mean(0), a.std(0)))
            print(f"| {p} | {len(rs)} | {', '.join(sorted({r['evals'] for r in rs}))} | {cells} |")
    full = sets[0]
    grid = sorted({n for rs in runs.values() for r in rs for n in r["new_evals"][:n_it]})
    grid = [n for n in grid if all(r["new_evals"][0] <= n for rs in runs.values() for r in rs)]
    print(f"\nHV of ({', '.join(full)}) at equal NEW evaluation counts (archive after the last iteration within "
          "the count), mean ± std over seeds\n")
    print("| policy | " + " | ".join(f"{n} evals" for n in grid) + " |")
    print("|---" * (1 + len(grid)) + "|")
    at_evals = {p: np.array([[hv_at(r["new_evals"], hv[p][full][j], n) for n in grid] for j, r in enumerate(rs)])
                for p, rs in runs.items()}
    for p, a in at_evals.items():
        print(f"| {p} | " + " | ".join(f"{m:.4f} ± {sd:.4f}" for m, sd in zip(a.mean(0), a.std(0))) + " |")
    # the same archives at equal wall time: cumulative seconds after each iteration, from the recorded timings
    ends = {p: [np.cumsum([sum(t.values()) for t in r["timings"][:n_it]]) for r in rs] for p, rs in runs.items()}
    longest = max(float(e[-1]) for es in ends.values() for e in es)
    step = 300.0 if longest > 1200 else 60.0
    tgrid = [step * k for k in range(1, int(longest // step) + 2)]
    print(f"\nHV of ({', '.join(full)}) at equal wall time (archive after the last iteration finished within the "
          "time; '-' before the first), mean ± std over seeds\n")
    print("| policy | " + " | ".join(f"{t / 60:.0f} min" for t in tgrid) + " |")
    print("|---" * (1 + len(tgrid)) + "|")
    at_times = {p: [[float(hv[p][full][j][np.flatnonzero(ends[p][j] <= t)[-1]]) for j in range(len(rs)) if ends[p][j][0] <= t]
                    for t in tgrid] for p, rs in runs.items()}
    for p, rs in runs.items():
        cells = [f"{np.mean(v):.4f} ± {np.std(v):.4f}" + ("" if len(v) == len(rs) else f" ({len(v)} of {len(rs)})")
                 if v else "-" for v in at_times[p]]
        print(f"| {p} | " + " | ".join(cells) + " |")
    if all(r["evals"].endswith("+0") for rs in runs.values() for r in rs):  # no re-evaluation: one set of weights
        print(f"\nHV of ({', '.join(full)}) of EVERY subnet evaluated within the count (what the search found, "
              "whatever its archive kept), mean ± std over seeds\n")
        print("| policy | " + " | ".join(f"{n} evals" for n in grid) + " |")
        print("|---" * (1 + len(grid)) + "|")
        found = {}
        for p, rs in runs.items():
            a = np.array([[hv_of(r, r["evaluated"][:n], full) for n in grid] for r in rs])
            found[p] = a
            print(f"| {p} | " + " | ".join(f"{m:.4f} ± {sd:.4f}" for m, sd in zip(a.mean(0), a.std(0))) + " |")
        print("\nHV of every subnet evaluated, at the largest count: differences against the seed spread\n")
        print("| policies | difference | sum of std | exceeds the spread? |")
        print("|---|---|---|---|")
        for i, a_p in enumerate(list(runs)):
            for b_p in list(runs)[i + 1:]:
                fa, fb = found[a_p][:, -1], found[b_p][:, -1]
                d, spread = fa.mean() - fb.mean(), fa.std() + fb.std()
                print(f"| {a_p} - {b_p} | {d:+.4f} | {spread:.4f} | {'yes' if abs(d) > spread else 'no'} |")
    print("\nFinal HV differences against the seed spread (a difference 'exceeds' it when |mean difference| > "
          "the sum of the two policies' standard deviations over seeds)\n")
    print("| policies | final HV difference | sum of std | exceeds the spread? |")
    print("|---|---|---|---|")
    names_p = list(runs)
    for i, a_p in enumerate(names_p):
        for b_p in names_p[i + 1:]:
            fa, fb = hv[a_p][full][:, -1], hv[b_p][full][:, -1]
            d, spread = fa.mean() - fb.mean(), fa.std() + fb.std()
            print(f"| {a_p} - {b_p} | {d:+.4f} | {spread:.4f} | {'yes' if abs(d) > spread else 'no'} |")
    print("\nOut-of-sample surrogate Kendall tau per iteration (the candidates' predicted vs measured error), "
          "mean ± std over seeds\n")
    print("| policy | " + " | ".join(f"it {i}" for i in range(1, n_it)) + " |")
    print("|---" * n_it + "|")
    for p, rs in runs.items():
        cells = []
        for i in range(1, n_it):
            t = [((r["history"][i].get("surrogate") or {}).get("kendall")) for r in rs if i < len(r["history"])]
            t = [v for v in t if v is not None and np.isfinite(v)]
            cells.append(f"{np.mean(t):.2f} ± {np.std(t):.2f}" if t else "n/a")
        print(f"| {p} | " + " | ".join(cells) + " |")
    print("\nTime per run (s, mean over seeds; summed step timings: history.json, or the events of the attempt that did the work)\n")
    split_names = ["evaluate", "re-evaluate", "adapt", "surrogate+NSGA+rest", "total"]
    print("| policy | " + " | ".join(split_names) + " |")
    print("|---" * (1 + len(split_names)) + "|")
    for p, rs in runs.items():
        ts = [time_split(r) for r in rs]
        print(f"| {p} | " + " | ".join(f"{np.mean([t[k] for t in ts]):.0f}" for k in split_names) + " |")
    if args.json:
        out = {p: {str(r["seed"]): [{"evaluations": int(n), "hv": float(v)} for n, v in
                                    zip(r["new_evals"][:n_it], hv[p][full][j])] for j, r in enumerate(rs)}
               for p, rs in runs.items()}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    if args.summary_json:
        summary = summarise(runs, {p: hv[p][full] for p in runs}, grid, at_evals, tgrid, at_times)
        args.summary_json.parent.mkdir(parents=True, exist_ok=True)
        args.summary_json.write_text(json.dumps(summary, indent=1) + "\n")
    print("\n| policy | best val top-1 (%) | final front size | surrogate Kendall tau (mean over iterations) |")
    print("|---|---|---|---|")
    for p, rs in runs.items():
        best = np.array([100 * (1 - r["F"][n_it - 1][:, 0].min()) for r in rs])
        size = np.array([len(non_dominated(r["F"][n_it - 1])) for r in rs])
        taus = [(it.get("surrogate") or {}).get("kendall") for r in rs for it in r["history"]]
        taus = [t for t in taus if t is not None and np.isfinite(t)]
        tau = f"{np.mean(taus):.2f} ({len(taus)} fits)" if taus else "n/a"
        print(f"| {p} | {best.mean():.2f} ± {best.std():.2f} | {size.mean():.1f} | {tau} |")

    if args.plot or args.fronts:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    if args.plot:
        fig, axes = plt.subplots(1, len(sets), figsize=(4.6 * len(sets), 3.6), squeeze=False)
        for ax, s in zip(axes[0], sets):
            for p, rs in runs.items():
                a = hv[p][s]
                x = np.arange(a.shape[1])
                ax.plot(x, a.mean(0), "-o", ms=3, label=f"{p} (n={len(rs)})")
                ax.fill_between(x, a.min(0), a.max(0), alpha=0.2)
            ax.set_xlabel("iteration (0 = initial archive)")
            ax.set_ylabel("hypervolume (fixed reference)")
            ax.set_title(" / ".join(s))
            ax.legend(fontsize=8)
        fig.suptitle(f"{args.title}: HV of the archive per iteration, mean and min-max over seeds")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
    if args.fronts:
        costs = first["names"][1:]
        fig, axes = plt.subplots(1, len(costs), figsize=(5.2 * len(costs), 3.8), squeeze=False)
        scale = {"params": 1e6, "macs": 1e6}
        for ax, c in zip(axes[0], costs):
            for k, (p, rs) in enumerate(runs.items()):
                for j, r in enumerate(rs):
                    F = r["F"][n_it - 1][:, [0, r["names"].index(c)]]
                    front = F[non_dominated(F)]
                    front = front[np.argsort(front[:, 1])]
                    ax.step(front[:, 1] / scale.get(c, 1), 100 * (1 - front[:, 0]), where="post", color=f"C{k}",
                            alpha=0.8, lw=1, marker=".", label=p if j == 0 else None)
            log_cost_axis(ax, f"{c} (M, log scale)" if c in scale else f"{c} (log scale)")
            ax.set_ylabel("validation top-1 (%)")
            ax.set_title(f"final fronts: accuracy vs {c} (every seed)")
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.fronts, dpi=110)


if __name__ == "__main__":
    main()
