"""Collect the INT8 export of one or more runs into docs/results/int8.json (per model: test top-1 float and
INT8, latency float and INT8 per batch size, the weights' granularity, what stayed float) with the CPU.

Reads only the runs' exported models (models/*/meta.json, written by `natv2 export --set export.int8=true`).

    python docs/scripts/int8_summary.py runs/cifar10-transfer runs/imagenette-transfer --out docs/results/int8.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import median
from typing import Any

from natv2.io.artifacts import EXPORT_META


def model_row(meta: dict[str, Any]) -> dict[str, Any]:
    q = meta["int8"]
    acc, ms = q["accuracy"], q["latency"]["ms"]
    row = {"model": meta["name"], "resolution": meta["resolution"], "variant": meta["variant"], "params": meta["params"],
           "macs": meta["macs"], "weights": q["weights"], "split": acc["split"], "n": acc["n"],
           "test_top1_float": acc["top1_float"], "test_top1_int8": acc["top1_int8"],
           "top1_drop_pp": 100 * (acc["top1_float"] - acc["top1_int8"]), "agreement": acc["agreement"],
           "float_ops": q["operators"]["float"]}
    for b in ms["float"]:
        row[f"latency_ms_float_b{b}"], row[f"latency_ms_int8_b{b}"] = ms["float"][b], ms["int8"][b]
        row[f"speedup_b{b}"] = ms["float"][b] / ms["int8"][b]
    return row


def run_summary(run: Path) -> dict[str, Any]:
    metas = [json.loads(p.read_text()) for p in sorted((run / "models").glob(f"*/{EXPORT_META}"))]
    metas = [m for m in metas if "int8" in m]
    if not metas:
        raise SystemExit(f"{run}: no model exported with export.int8=true")
    rows = [model_row(m) for m in metas]
    lat = metas[0]["int8"]["latency"]
    return {"run": run.name, "native_size": metas[0].get("preprocessing", {}).get("native_size"), "models": rows,
            "median_top1_drop_pp": median(r["top1_drop_pp"] for r in rows),
            "median_speedup_b64": median(r["speedup_b64"] for r in rows if "speedup_b64" in r),
            "calibration": metas[0]["int8"]["calibration"], "latency_conditions": {
                k: lat[k] for k in ("runtime", "cpu", "cpu_flags", "vnni", "threads", "runs", "statistic")}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--extra", type=Path, help="a JSON object merged into the file (e.g. the INT8 latency table check)")
    args = p.parse_args()
    from natv2.measure.latency import cpu_flags, device_name

    out = {"cpu": device_name("cpu"), "cpu_flags": cpu_flags(), "runs": [run_summary(r) for r in args.runs]}
    if args.extra:
        out.update(json.loads(args.extra.read_text()))
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    for r in out["runs"]:
        print(f"{r['run']}: median drop {r['median_top1_drop_pp']:.2f} pp, median speed-up b64 {r['median_speedup_b64']:.2f}x")
        for m in r["models"]:
            print(f"  {m['model']:<26} {m['macs'] / 1e6:6.1f} MMACs  {100 * m['test_top1_float']:.2f} -> "
                  f"{100 * m['test_top1_int8']:.2f}  b1 {m.get('speedup_b1', 0):.2f}x  b64 {m.get('speedup_b64', 0):.2f}x")


if __name__ == "__main__":
    main()
