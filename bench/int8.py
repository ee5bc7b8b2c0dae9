"""INT8 vs float32 in onnxruntime on this CPU: speed-up by model size, and where an INT8 pass spends its time.

    python bench/int8.py [--arch ofa_mbv3] [--resolutions 32,64,128,224] [--threads 1] [--runs 20] [--append]

For each resolution, three subnets of the space (smallest, a seeded random one, largest) with random
weights and BN statistics are exported to ONNX and quantized exactly as `natv2 export --set
export.int8=true` does (QDQ, per-channel weights; activation ranges from random inputs, which do not
change the speed). Float and INT8 files are timed round-robin in one run at batch 1 and 64; the ratio
is the claim. The second table is onnxruntime's own profile of the smallest and largest INT8 model at
batch 64: the share of time in integer kernels, float operators (hard-sigmoid, the excitation mean)
and the quantize / dequantize steps between them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchlib import machine_line, publish


def subnets(arch: str, r: int, seed: int) -> list[tuple[str, torch.nn.Module, int]]:
    """(label, extracted network with non-trivial BN statistics, MACs) for the min, a random and the max subnet."""
    from natv2.measure import cost_model
    from natv2.supernets import create, recalibrate_bn

    torch.manual_seed(seed)
    supernet = create(arch, 10, r=[r]).eval()
    space = supernet.space
    picks = {"min": space.min_config(), "random": space.sample(np.random.default_rng(seed)), "max": space.max_config()}
    out = []
    calib = [torch.randn(32, 3, r, r, generator=torch.Generator().manual_seed(seed))]
    for label, cfg in picks.items():
        cfg = replace(cfg, r=r)
        supernet.set_active_subnet(cfg)
        net = recalibrate_bn(supernet.extract_subnet(), calib, inplace=True).eval()
        out.append((label, net, cost_model(arch, 10).macs(cfg)))
    return out


def files_for(net: torch.nn.Module, r: int, folder: Path) -> tuple[Path, Path]:
    from natv2.runtime.int8 import QuantRecipe, quantize_int8
    from natv2.runtime.onnx_file import write_onnx

    fp = write_onnx(net, torch.randn(2, 3, r, r), folder / "model.onnx", ("logits",))
    batches = [np.random.default_rng(i).standard_normal((16, 3, r, r)).astype(np.float32) for i in range(4)]
    return fp, quantize_int8(fp, folder / "model.int8.onnx", batches, QuantRecipe(per_channel=True))


def profile_shares(path: Path, r: int, batch: int, threads: int, runs: int) -> dict[str, float]:
    """Share of operator time per group (int8 kernels, float ops, conversions, other) from onnxruntime's profiler."""
    import onnxruntime as ort

    from natv2.runtime.int8 import CONVERSION_OPS, INTEGER_OPS

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling = True
    options.profile_file_prefix = str(path.parent / "profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, r, r)).astype(np.float32)
    for _ in range(runs):
        session.run(None, {"input": x})
    trace = json.loads(Path(session.end_profiling()).read_text())
    groups: dict[str, float] = defaultdict(float)
    for ev in trace:
        if ev.get("cat") != "Node" or not str(ev.get("name", "")).endswith("_kernel_time"):
            continue
        op = ev.get("args", {}).get("op_name", "")
        group = ("int8 kernels" if op.startswith("QLinear") or op in INTEGER_OPS else
                 "quantize/dequantize" if op in CONVERSION_OPS else "float ops" if op not in ("Reorder",) else "other")
        groups[f"{group}"] += ev["dur"]
        groups[f"op:{op}"] += ev["dur"]
    total = sum(v for k, v in groups.items() if not k.startswith("op:"))
    return {k: v / total for k, v in groups.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="ofa_mbv3")
    p.add_argument("--resolutions", default="32,64,128,224")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--append", action="store_true", help="add the result to bench/RESULTS.md")
    args = p.parse_args()
    from natv2.measure.latency import cpu_flags, device_name, has_vnni
    from natv2.measure.onnx_latency import measure_onnx_latencies

    load = os.getloadavg()[0]
    rows, profiles = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in (int(v) for v in args.resolutions.split(",")):
            for label, net, macs in subnets(args.arch, r, args.seed):
                folder = Path(tmp) / f"{r}-{label}"
                folder.mkdir()
                fp, qp = files_for(net, r, folder)
                ms = {b: [m.median_ms for m in measure_onnx_latencies([fp, qp], r, batch_size=b, threads=args.threads,
                                                                        warmup=3, runs=args.runs)] for b in (1, 64)}
                rows.append((r, label, macs, ms))
                if label in ("min", "max") and r in (min(int(v) for v in args.resolutions.split(",")), 224):
                    profiles.append((r, label, profile_shares(qp, r, 64, args.threads, max(3, args.runs // 4))))
                print(rows[-1], flush=True)
    flags = cpu_flags()
    cmd = (f"python bench/int8.py --arch {args.arch} --resolutions {args.resolutions} --threads {args.threads} "
           f"--runs {args.runs}")
    lines = [f"\n### INT8 vs float32 speed-up by model size, onnxruntime ({__import__('datetime').date.today()}) — `{args.arch}`\n",
             machine_line(load, args.threads, cmd),
             f"CPU: {device_name('cpu')}, flags {', '.join(flags) or 'none read'} (VNNI: {'yes' if has_vnni(flags) else 'no'}).\n",
             "| r | subnet | MACs (M) | float b1 (ms) | INT8 b1 (ms) | speed-up b1 | float b64 (ms) | INT8 b64 (ms) | speed-up b64 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r, label, macs, ms in rows:
        lines.append(f"| {r} | {label} | {macs / 1e6:.1f} | {ms[1][0]:.3f} | {ms[1][1]:.3f} | {ms[1][0] / ms[1][1]:.2f}x | "
                     f"{ms[64][0]:.2f} | {ms[64][1]:.2f} | {ms[64][0] / ms[64][1]:.2f}x |")
    lines += ["", "Where an INT8 pass spends its time (onnxruntime profiler, batch 64, share of operator time):", "",
              "| r | subnet | int8 kernels | float ops | quantize/dequantize | largest float ops |", "|---|---|---|---|---|---|"]
    for r, label, sh in profiles:
        top = sorted(((k[3:], v) for k, v in sh.items() if k.startswith("op:") and not k[3:].startswith("QLinear")
                      and k[3:] not in ("QuantizeLinear", "DequantizeLinear", "QGemm")), key=lambda kv: -kv[1])[:3]
        lines.append(f"| {r} | {label} | {sh.get('int8 kernels', 0):.0%} | {sh.get('float ops', 0):.0%} | "
                     f"{sh.get('quantize/dequantize', 0):.0%} | {', '.join(f'{k} {v:.0%}' for k, v in top)} |")
    publish("\n".join(lines), args.append)


if __name__ == "__main__":
    main()
