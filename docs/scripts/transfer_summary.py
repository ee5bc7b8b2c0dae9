"""Machine-readable summary of the transfer experiments (docs/results/transfer.json): the source
supernet's one-time cost and accuracy, and per target the transfer run, the scratch run and the
fixed-architecture and fixed-subnet runs (conventional transfer learning): best post-processed test top-1, target-side
minutes, fronts and the hypervolume of their test fronts on common bounds.

Reads only the run directories' own records (events.jsonl, train/metrics.jsonl, search/final_test.json,
models/finetune.json) through docs/scripts/results_summary.py; one target per call, merged into --out:

    python docs/scripts/transfer_summary.py --source-run runs/tin-source --out docs/results/transfer.json
    python docs/scripts/transfer_summary.py --target imagenette --transfer runs/in-transfer \
        --scratch runs/in-scratch --fixed-arch runs/in-fixed --fixed-subnet runs/in-fixed-subnet \
        --out docs/results/transfer.json
    python docs/scripts/transfer_summary.py --policies adapt=pa.json --policies noadapt=pn.json \
        --out docs/results/transfer.json        # search_hv.py --summary-json files
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_summary import _percent, machine, read_jsonl, stage_minutes, summarise  # noqa: E402

from natv2.io import artifacts  # noqa: E402
from natv2.train.metrics import EpochRecord  # noqa: E402


def phase_table(run: Path) -> list[dict[str, Any]]:
    """Per phase: minutes of training and the end-of-phase max/min subnet test top-1."""
    rows = []
    for i, m in enumerate(read_jsonl(run / artifacts.REL_TRAIN_METRICS), start=1):
        r = EpochRecord.from_dict(m, f"metrics line {i}")  # fractions, whichever unit the file holds
        if r.phase_eval is not None:
            rows.append({"phase": r.phase, "epochs": r.epoch + 1, "split": r.phase_eval.split,
                         "max_top1": _percent(r.phase_eval.max), "min_top1": _percent(r.phase_eval.min)})
    return rows


def source_summary(run: Path) -> dict[str, Any]:
    phases = phase_table(run)
    minutes = stage_minutes(read_jsonl(run / artifacts.EVENTS_FILE))
    supernet = json.loads((run / artifacts.REL_TRAINED_SUPERNET).with_suffix(".json").read_text())
    return {"run": run.name, "dataset": supernet["meta"].get("dataset"), "n_classes": supernet["meta"].get("n_classes"),
            "supernet": supernet["meta"].get("supernet"), "resolutions": supernet["arch"]["space"]["r"],
            "minutes": minutes.get("train"), "machine": machine(),
            "max_subnet_test_top1": phases[-1]["max_top1"] if phases else None,
            "min_subnet_test_top1": phases[-1]["min_top1"] if phases else None,
            "test_split": "Tiny ImageNet's labelled val split (10,000 images)", "phases": phases}


def phase_minutes(run: Path, phase: str) -> float | None:
    """Wall minutes of one training phase, from its phase_start to its phase_end event (last attempt)."""
    start = end = None
    for e in read_jsonl(run / artifacts.EVENTS_FILE):
        if (e.get("data") or {}).get("phase") == phase:
            if e["event"] == "phase_start":
                start = e["ts"]
            elif e["event"] == "phase_end":
                end = e["ts"]
    if start is None or end is None:
        return None
    from results_summary import _ts

    return round((_ts(end) - _ts(start)).total_seconds() / 60, 2)


def fixed_arch_summary(run: Path, phase: str | None = None) -> dict[str, Any]:
    """The source's largest subnet with a new head, fine-tuned on the target: the end-of-phase test top-1
    of a train-supernet run with train.only_phases=[full], or of `phase` (the `full` phase of a transfer
    run's warm-up is exactly this, at the warm-up's budget)."""
    rows = phase_table(run)
    row = next((r for r in rows if r["phase"] == phase), None) if phase else (rows[-1] if rows else None)
    if phase:
        minutes = phase_minutes(run, phase)
    else:
        minutes = round(sum(stage_minutes(read_jsonl(run / artifacts.EVENTS_FILE)).values()), 2)
    supernet = json.loads((run / artifacts.REL_TRAINED_SUPERNET).with_suffix(".json").read_text())
    return {"run": run.name, "phase": phase or (row or {}).get("phase"), "epochs": (row or {}).get("epochs"),
            "what": "the source's largest subnet with a new head, fine-tuned on the target (no search)",
            "params": max_subnet_params(supernet),
            "best_postprocessed_test_top1": row["max_top1"] if row else None, "target_minutes": minutes}


def fixed_subnet_summary(run: Path) -> dict[str, Any]:
    """One fixed subnet of the source with a new head, fine-tuned alone (docs/configs/transfer-fixed-subnet.yaml):
    its two-step fine-tuning's test top-1, from models/finetune.json."""
    done = json.loads((run / artifacts.REL_FINETUNE_SUMMARY).read_text())["subnets"][0]
    minutes = round(sum(stage_minutes(read_jsonl(run / artifacts.EVENTS_FILE)).values()), 2)
    return {"run": run.name, "name": done["name"], "subnet": done["subnet"],
            "what": "one fixed subnet of the source (the largest uniform one with at most natv2's pick's params), "
                    "new head, NATv2's two-step fine-tuning from the source's weights (no warm-up, no search)",
            "params": done["params"], "epochs": done["e_star"],
            "test_top1_inherited": round(100 * done["before"]["test"]["top1"], 2),
            "best_postprocessed_test_top1": round(100 * done["after"]["test"]["top1"], 2), "target_minutes": minutes}


def max_subnet_params(supernet: dict[str, Any]) -> int:
    from natv2.measure.costs import cost_model
    from natv2.space import SearchSpace
    from natv2.supernets.arch import MacroArch

    arch = MacroArch.from_dict(supernet["arch"]["arch"])
    space = SearchSpace.from_dict(supernet["arch"]["space"])
    return int(cost_model(arch, arch.n_classes).cost(space.max_config())[0])


def pipeline_summary(run: Path) -> dict[str, Any]:
    s = summarise(run)
    return {"run": run.name, "best_postprocessed_test_top1": s["best_postprocessed_test_top1"],
            "target_minutes": s["total_minutes"], "stage_minutes": s["stage_minutes"],
            "max_subnet_test_top1": s["max_subnet_test_top1"], "min_subnet_test_top1": s["min_subnet_test_top1"],
            "front": s["front"]}


def front_hv(front: list[dict[str, Any]], max_params: float) -> float:
    """Hypervolume of the (test error, params / max_params) front of test top-1 before fine-tuning, against
    the reference point (1, 1.01): larger is better."""
    pts = sorted({(f["params"] / max_params, 1 - f["test_top1_before"] / 100) for f in front if f["in_front"]})
    hv, best_err = 0.0, 1.0
    for i, (p, e) in enumerate(pts):
        best_err = min(best_err, e)
        nxt = pts[i + 1][0] if i + 1 < len(pts) else 1.01
        hv += (nxt - p) * (1.0 - best_err)
    return round(hv, 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-run", type=Path, help="the run directory of the source (tiny-imagenet-cpu)")
    ap.add_argument("--target", help="target name (a key of `targets`)")
    ap.add_argument("--transfer", type=Path, help="the target's transfer run directory")
    ap.add_argument("--scratch", type=Path, help="the target's scratch run directory")
    ap.add_argument("--fixed-arch", type=Path, help="the target's fixed-architecture run directory")
    ap.add_argument("--fixed-arch-phase", default=None,
                    help="read the fixed architecture from this phase of --fixed-arch (e.g. full of a transfer run)")
    ap.add_argument("--fixed-subnet", type=Path, help="the target's fixed-subnet run directory (transfer-fixed-subnet.yaml)")
    ap.add_argument("--policies", action="append", default=[], metavar="KEY=FILE",
                    help="a search_hv.py --summary-json file, kept as policies.KEY (repeatable)")
    ap.add_argument("--policies-about", default=None, help="what the policy comparison ran on (policies.about)")
    ap.add_argument("--out", type=Path, required=True, help="JSON file to create or update")
    args = ap.parse_args()
    out: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.source_run:
        out["source"] = source_summary(args.source_run)
    if args.target:
        target: dict[str, Any] = out.setdefault("targets", {}).setdefault(args.target, {})
        for key, run, fn in (("transfer", args.transfer, pipeline_summary), ("scratch", args.scratch, pipeline_summary)):
            if run is not None:
                target[key] = fn(run)
        if args.fixed_arch is not None:
            target["fixed_arch"] = fixed_arch_summary(args.fixed_arch, args.fixed_arch_phase)
        if args.fixed_subnet is not None:
            target["fixed_subnet"] = fixed_subnet_summary(args.fixed_subnet)
        fronts = [target[k]["front"] for k in ("transfer", "scratch") if k in target]
        if fronts:
            top = 1.01 * max(f["params"] for front in fronts for f in front)
            for key in ("transfer", "scratch"):
                if key in target:
                    target[key]["test_front_hv"] = front_hv(target[key]["front"], top)
            target["hv_note"] = ("test_front_hv: hypervolume of the search's non-dominated subnets (test top-1 with "
                                 "inherited weights vs params / (1.01 x the largest params of both runs)), reference (1, 1.01)")
    if args.policies:
        if not isinstance(out.get("policies"), dict):
            out["policies"] = {}
        out.pop("policies_note", None)
        for item in args.policies:
            key, _, path = item.partition("=")
            out["policies"][key] = json.loads(Path(path).read_text())
        if args.policies_about:
            out["policies"]["about"] = args.policies_about
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "targets"}, indent=1)[:2000])


if __name__ == "__main__":
    main()
