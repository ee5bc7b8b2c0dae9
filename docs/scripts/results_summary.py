"""Machine-readable summary of one `natv2 run` (docs/results/cifar10.json): stage wall minutes, the
machine, the max subnet's test top-1 after training, the search front's test top-1 before and after
post-processing, and (optionally) the policy comparison's HV per iteration.

Reads only the run directory's own records (events.jsonl, train/metrics.jsonl, search/final_test.json,
models/finetune.json); nothing is re-computed.

    python docs/scripts/results_summary.py runs/c10 --policies docs/results/policies-noadapt.json \
        --policies-adapt docs/results/policies-adapt.json --out docs/results/cifar10.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

from natv2.io import artifacts
from natv2.measure.costs import cost_model
from natv2.space import SubnetConfig
from natv2.supernets.arch import MacroArch
from natv2.train.metrics import EpochRecord


def _ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def stage_minutes(events: list[dict[str, Any]]) -> dict[str, float]:
    """Wall minutes per stage: from each stage's first 'start' to its 'done', summed over resumed sessions
    (a session that was killed counts up to the stage's last event before the kill)."""
    out: dict[str, float] = {}
    open_at: dict[str, dt.datetime] = {}
    last: dict[str, dt.datetime] = {}
    for ev in events:
        stage, kind, t = ev.get("stage"), ev.get("event"), _ts(ev["ts"])
        if stage == "run" and kind == "created":
            for s, t0 in open_at.items():  # a new session: close the interrupted ones at their last event
                out[s] = out.get(s, 0.0) + (last[s] - t0).total_seconds() / 60
            open_at.clear()
            continue
        if stage is None or stage == "run":
            continue
        if kind == "start" and stage not in open_at:
            open_at[stage] = t
        last[stage] = t
        if kind == "done" and stage in open_at:
            out[stage] = out.get(stage, 0.0) + (t - open_at.pop(stage)).total_seconds() / 60
    return {k: round(v, 2) for k, v in out.items()}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def machine() -> str:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    import torch

    return (f"{platform.machine()} {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"Python {platform.python_version()}")


def _percent(fraction: float | None) -> float | None:
    """Percent with two decimals, as docs/results/*.json state accuracies."""
    return None if fraction is None else round(100 * fraction, 2)


def summarise(run: Path) -> dict[str, Any]:
    events = read_jsonl(run / artifacts.EVENTS_FILE)
    metrics = read_jsonl(run / artifacts.REL_TRAIN_METRICS)
    records = [EpochRecord.from_dict(m, f"metrics line {i}") for i, m in enumerate(metrics, start=1)]
    evals = [r.phase_eval for r in records if r.phase_eval is not None]  # fractions, whichever unit the file holds
    last_eval = evals[-1] if evals else None
    final_test = json.loads((run / artifacts.REL_FINAL_TEST).read_text())
    finetuned = json.loads((run / artifacts.REL_FINETUNE_SUMMARY).read_text())
    after = {s["name"]: s for s in finetuned["subnets"] if s.get("variant", "single") == "single"}
    supernet = json.loads((run / artifacts.REL_TRAINED_SUPERNET).with_suffix(".json").read_text())
    arch = MacroArch.from_dict(supernet["arch"]["arch"])
    costs = cost_model(arch, arch.n_classes)
    front = []
    for e in final_test["entries"]:
        ft = after.get(e["name"])
        if not e.get("in_front") and ft is None:
            continue
        params, macs = costs.cost(SubnetConfig.from_dict(e["config"]))
        front.append({
            "name": e["name"],
            "params": int(params),
            "macs": int(macs),
            "in_front": bool(e.get("in_front")),
            "val_top1": round(100 * e["val_acc"], 2),
            "test_top1_before": round(100 * e["test_acc"], 2),
            "test_top1_after": round(100 * ft["after"]["test"]["top1"], 2) if ft else None,
        })
    front.sort(key=lambda f: f["params"])
    best_after = max((100 * s["after"]["test"]["top1"] for s in after.values()), default=None)
    minutes = stage_minutes(events)
    return {
        "run": run.name,
        "stage_minutes": minutes,
        "stage_minutes_note": "from each stage's start to its done event; decoding the data is inside train",
        "total_minutes": round(sum(minutes.values()), 2),
        "machine": machine(),
        "max_subnet_test_top1": _percent(last_eval.max if last_eval else None),
        "min_subnet_test_top1": _percent(last_eval.min if last_eval else None),
        "best_postprocessed_test_top1": round(best_after, 2) if best_after is not None else None,
        "front": front,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="the run directory of `natv2 run --preset cifar10`")
    ap.add_argument("--policies", type=Path, default=None,
                    help="policy -> seed -> [{evaluations, hv}] from docs/scripts/search_hv.py --json")
    ap.add_argument("--policies-adapt", type=Path, default=None,
                    help="the same for the runs with supernet adaptation (key policies_with_adaptation)")
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here (default: print it)")
    args = ap.parse_args()
    out = summarise(args.run)
    if args.policies is not None:
        out["policies"] = json.loads(args.policies.read_text())
        out["policies_note"] = (
            "HV of the archive's (err, params, macs) on the fixed bounds of each run's search/config.json, after "
            "each iteration; evaluations = new subnets evaluated so far. policies: no supernet adaptation, "
            "accuracies on the whole 5,000-image validation split (docs/configs/c10-policies.yaml).")
    if args.policies_adapt is not None:
        out["policies_with_adaptation"] = json.loads(args.policies_adapt.read_text())
        out["policies_note"] += (" policies_with_adaptation: adaptation after every iteration, accuracies on a fixed "
                                 "2,000-image subset of it (docs/configs/c10-policies-adapt.yaml).")
    text = json.dumps(out, indent=1) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
