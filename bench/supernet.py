"""Benchmark: natv2 `ofa_mbv3` vs the reference `ofa` package's OFAMobileNetV3 (issue 3).

1. Training-step throughput (forward + backward + SGD step, batch 64, 2 threads) on the same
   sequence of random subnets, natv2 and OFA interleaved step by step (alternating which goes
   first), at 32 and 64 px. Reports medians and the ratio (goal: natv2 >= 1.5x OFA).
2. Inference throughput of extracted subnets (OFA `get_active_subnet` vs natv2 `extract_subnet`).

natv2 runs as shipped (it converts activations to channels_last on entry), OFA as shipped (NCHW);
natv2 with channels_last switched off is reported too. All get the same NCHW input tensors and hold
identical weights (loaded via from_ofa_state_dict).

    .venv/bin/python bench/supernet.py [--steps 20] [--threads 2] [--append bench/RESULTS.md]

`ofa` needs torchvision at import time only for its data loaders; where torchvision is not
installed, a minimal stand-in module is put in sys.modules (the model code never calls it).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from natv2.supernets import from_ofa_state_dict


def _import_ofa():
    try:
        importlib.import_module("torchvision")
    except Exception:  # noqa: BLE001 - no usable torchvision: install the stand-in
        tv = types.ModuleType("torchvision")
        tr = types.ModuleType("torchvision.transforms")
        fn = types.ModuleType("torchvision.transforms.functional")
        tr.RandomResizedCrop = type("RandomResizedCrop", (), {})
        tr.RandomCrop = type("RandomCrop", (), {})
        tr.functional = fn
        tv.transforms = tr
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn})
    from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    from ofa.utils import init_models

    return OFAMobileNetV3, init_models


def _train_step(model, opt, x, y) -> float:
    t0 = time.perf_counter()
    out = model(x)
    loss = F.cross_entropy(out, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def _sgd(model):
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=3e-5)


def bench_training(ref, nets: dict, res: int, steps: int, batch: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """Interleaved training steps on one shared sequence of random subnets; returns seconds per step."""
    any_net = next(iter(nets.values()))
    space = any_net.space.restrict(r=[res])
    opts = {"ofa": _sgd(ref), **{k: _sgd(n) for k, n in nets.items()}}
    times: dict[str, list[float]] = {k: [] for k in opts}
    gen = torch.Generator().manual_seed(res)
    for step in range(steps + 2):  # the first 2 steps are warm-up
        cfg = space.sample(rng)
        x = torch.randn(batch, 3, res, res, generator=gen)
        y = torch.randint(0, ref.classifier.linear.out_features, (batch,), generator=gen)
        ref.set_active_subnet(ks=list(cfg.ks), e=list(cfg.e), d=list(cfg.d))
        order = ["ofa", *nets] if step % 2 == 0 else [*nets, "ofa"]
        for name in order:
            if name == "ofa":
                dt = _train_step(ref, opts[name], x, y)
            else:
                net = nets[name]
                net.set_active_subnet(cfg)
                dt = _train_step(net, opts[name], x, y)
            if step >= 2:
                times[name].append(dt)
    return times


@torch.no_grad()
def bench_inference(ref, net, res: int, n_subnets: int, batch: int, reps: int, rng: np.random.Generator) -> dict[str, list[float]]:
    """Images/s of extracted subnets (eval mode), OFA vs natv2, interleaved, same NCHW input."""
    space = net.space.restrict(r=[res])
    rates: dict[str, list[float]] = {"ofa": [], "natv2": []}
    x = torch.randn(batch, 3, res, res)
    for _ in range(n_subnets):
        cfg = space.sample(rng)
        ref.set_active_subnet(ks=list(cfg.ks), e=list(cfg.e), d=list(cfg.d))
        net.set_active_subnet(cfg)
        a = ref.get_active_subnet().eval()
        b = net.extract_subnet().eval()
        a(x), b(x)  # warm-up
        for _ in range(reps):
            for name, model, inp in (("ofa", a, x), ("natv2", b, x)):
                t0 = time.perf_counter()
                model(inp)
                rates[name].append(batch / (time.perf_counter() - t0))
    return rates


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20, help="timed training steps per resolution")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    p.add_argument("--infer-subnets", type=int, default=5)
    p.add_argument("--infer-reps", type=int, default=5)
    p.add_argument("--append", type=Path, default=None, help="append the table to this markdown file")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    OFAMobileNetV3, init_models = _import_ofa()
    ref = OFAMobileNetV3(n_classes=10, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    init_models(ref)
    ref.train()
    state = ref.state_dict()
    nets = {
        "natv2": from_ofa_state_dict(state, 10, r=args.resolutions).train(),
        "natv2_nchw": from_ofa_state_dict(state, 10, r=args.resolutions).train(),
    }
    nets["natv2_nchw"].channels_last = False
    rng = np.random.default_rng(args.seed)
    lines = []
    lines.append(f"### natv2 ofa_mbv3 vs ofa OFAMobileNetV3 ({_dt.datetime.now().isoformat(timespec='minutes')})\n")
    lines.append(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared with other jobs (load average at start "
        f"{os.getloadavg()[0]:.1f}), {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"python {platform.python_version()}. "
        f"Command: `.venv/bin/python bench/supernet.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n"
    )
    lines.append(f"Training step (forward + backward + SGD), batch {args.batch}, {args.steps} random subnets per resolution, interleaved:\n")
    lines.append("| res | ofa median s/step | natv2 median s/step | natv2 NCHW (channels_last off) | speed-up | speed-up NCHW |")
    lines.append("|---|---|---|---|---|---|")
    for res in args.resolutions:
        t = bench_training(ref, nets, res, args.steps, args.batch, rng)
        m = {k: statistics.median(v) for k, v in t.items()}
        lines.append(
            f"| {res} | {m['ofa']:.4f} | {m['natv2']:.4f} | {m['natv2_nchw']:.4f} | "
            f"**{m['ofa'] / m['natv2']:.2f}x** | {m['ofa'] / m['natv2_nchw']:.2f}x |"
        )
        print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"Extracted-subnet inference (eval, no_grad), batch {args.batch}, {args.infer_subnets} subnets x {args.infer_reps} reps:\n")
    lines.append("| res | ofa median img/s | natv2 median img/s | speed-up |")
    lines.append("|---|---|---|---|")
    net = nets["natv2"].eval()
    ref.eval()
    for res in args.resolutions:
        r = bench_inference(ref, net, res, args.infer_subnets, args.batch, args.infer_reps, rng)
        mo, mn = statistics.median(r["ofa"]), statistics.median(r["natv2"])
        lines.append(f"| {res} | {mo:.0f} | {mn:.0f} | **{mn / mo:.2f}x** |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
