"""Cost and ranking quality of every surrogate at the search's working size (archive 300, 22 genes).

    python bench/predictors.py [--n 300] [--n-test 1000] [--repeats 3] [--append bench/RESULTS.md]

For each registered surrogate with default parameters: wall and CPU time of fit on n x 22, wall time
to predict 2,000 rows (one NSGA run: 100 x 20 generations), and held-out Kendall tau on the two
synthetic NAS-like targets of natv2.predictors.synthetic ("smooth", "coded"). Then the choices
behind defaults: rbf_ensemble member count, GP optimiser cap, thread limit, CART variants.
Times are medians over repeats; the machine is shared, so CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time

import numpy as np

from natv2.predictors import create, list_surrogates, rank_metrics
from natv2.predictors.synthetic import make_dataset


def measure(name: str, params: dict, data: dict, repeats: int) -> dict:
    """Median fit wall/CPU and predict-2000 wall time, plus held-out tau per target shape."""
    Xtr, ytr, Xte, _ = data["smooth"]
    fit_wall, fit_cpu, pred_wall = [], [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        model = create(name, seed=0, **params).fit(Xtr, ytr)
        fit_wall.append(time.perf_counter() - w)
        fit_cpu.append(time.process_time() - c)
        queries = np.tile(Xte, (2000 // len(Xte) + 1, 1))[:2000]
        w = time.perf_counter()
        for start in range(0, 2000, 100):  # NSGA asks for one population of 100 at a time
            model.predict(queries[start : start + 100])
        pred_wall.append(time.perf_counter() - w)
    out = {
        "fit_wall": statistics.median(fit_wall),
        "fit_cpu": statistics.median(fit_cpu),
        "pred_wall": statistics.median(pred_wall),
    }
    for shape, (Xtr, ytr, Xte, yte) in data.items():
        model = create(name, seed=0, **params).fit(Xtr, ytr)
        out[f"tau_{shape}"] = rank_metrics(yte, model.predict(Xte))["kendall"]
        if shape == "smooth" and hasattr(model, "chosen"):
            out["chosen"] = model.chosen
    return out


def row(label: str, r: dict) -> str:
    extra = f" (chose {r['chosen']})" if "chosen" in r else ""
    return (
        f"| {label}{extra} | {r['fit_wall']:.2f} | {r['fit_cpu']:.2f} | {r['pred_wall']:.2f} "
        f"| {r['tau_smooth']:.3f} | {r['tau_coded']:.3f} |"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--append", default=None, help="append the markdown to this file")
    args = ap.parse_args(argv)

    data = {s: make_dataset(args.n, args.n_test, shape=s, noise=0.05, seed=args.seed) for s in ("smooth", "coded")}
    create("mlp", epochs=1).fit(*data["smooth"][:2])  # import torch & friends outside the timings
    create("lgbm", folds=2).fit(*data["smooth"][:2])
    create("gp", max_iter=1).fit(*data["smooth"][:2])

    head = "| surrogate | fit wall (s) | fit CPU (s) | predict 2000 wall (s) | tau smooth | tau coded |\n|---|---|---|---|---|---|"
    lines = [
        f"### surrogates at archive {args.n} x 22 genes ({dt.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs; load average "
        f"{os.getloadavg()[0]:.1f} at start), Python {platform.python_version()}. Command: "
        f"`python bench/predictors.py {' '.join(sys.argv[1:] if argv is None else argv)}`",
        f"Held-out tau on {args.n_test} points; noise sd = 5% of signal sd (a perfect model scores about 0.97). "
        f"Medians of {args.repeats} repeats; every surrogate limits BLAS/OpenMP to 1 thread (its default).",
        "",
        "Defaults:",
        "",
        head,
    ]
    print("\n".join(lines), flush=True)

    def emit(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    for name in list_surrogates():
        emit(row(name, measure(name, {}, data, 1 if name == "adaptive" else args.repeats)))
    emit("")
    emit("Choices behind the defaults:")
    emit("")
    emit(head)
    variants = [
        ("rbf_ensemble", {"members": m}) for m in (50, 100, 200, 500)
    ] + [
        ("gp", {"max_iter": 15}),
        ("gp", {"max_iter": 200}),
        ("gp", {"threads": None}),
        ("carts", {"n_trees": 1000}),
        ("carts", {"bootstrap": True}),
        ("lgbm", {"folds": 1}),
        ("mlp", {"epochs": 1000}),
        ("adaptive", {"folds": 5}),
    ]
    for name, params in variants:
        label = f"{name} " + ", ".join(f"{k}={v}" for k, v in params.items())
        emit(row(label, measure(name, params, data, 1 if name == "adaptive" else args.repeats)))
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write("\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
