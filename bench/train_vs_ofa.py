"""natv2's supernet training step against the reference `ofa` package's, same device, same subnets.

Both supernets hold the same weights (natv2's `ofa_mbv3` is loaded from a random-weight
`OFAMobileNetV3` with `from_ofa_state_dict`), see the same batches, the same sequence of sampled
subnets, the same loss (label-smoothed cross-entropy) and the same optimiser; only the model code
differs. Rounds are interleaved (ofa, natv2, ofa, natv2, ...) so a noisy machine hits both alike.

Rows:
- `ofa, own loop`: OFA's training loop reads the loss on the host every step (`loss.item()`).
- `ofa, natv2 loop`: the same model in a loop that reads the loss every `--sync-every` steps.
- `natv2 model, same loop`: natv2's model in that loop: the ratio of the two is the model's.
- `natv2 run_epoch`: the trainer's own step (`natv2.train.steps.run_epoch`), what `natv2 train-supernet` runs.

    python bench/train_vs_ofa.py --device cuda --batch 256 --steps 30 --rounds 3
    .venv/bin/python bench/train_vs_ofa.py --batch 32 --steps 3 --rounds 2 --threads 2   # CPU
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def ofa_class():
    """The `ofa` package's OFAMobileNetV3 (with the tests' torchvision stand-in where torchvision is absent)."""
    try:
        importlib.import_module("torchvision")
    except Exception:  # noqa: BLE001 - a CPU torch without torchvision: the tests' stand-in suffices
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from conftest import _install_torchvision_stand_in

        _install_torchvision_stand_in()
    return importlib.import_module("ofa.imagenet_classification.elastic_nn.networks").OFAMobileNetV3


def build_pair(device: torch.device, res: int):
    from natv2.supernets import from_ofa_state_dict

    torch.manual_seed(0)
    ref = ofa_class()(n_classes=10, width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    net = from_ofa_state_dict(ref.state_dict(), n_classes=10, r=[res])
    return ref.to(device).train(), net.to(device).train()


def subnet_plan(space, mode: str, steps: int, per_step: int, seed: int):
    """The subnets of every step: the maximal one (`full`) or uniform samples (`elastic`)."""
    rng = np.random.default_rng(seed)
    if mode == "full":
        return [[space.max_config()] for _ in range(steps)]
    return [[space.sample(rng) for _ in range(per_step)] for _ in range(steps)]


def time_loop(model, activate, plan, x, y, device, sync_every: int, autocast) -> float:
    """Seconds for the steps of `plan` (one optimiser step per list of subnets)."""
    from natv2.train.optim import make_sgd

    opt = make_sgd(model, 0.01, 0.9, True, 3e-5, True)
    losses = []

    def step(cfgs):
        opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=device)
        for cfg in cfgs:
            activate(cfg)
            with autocast():
                out = model(x)
            loss = F.cross_entropy(out.float(), y, label_smoothing=0.1)
            loss.backward()
            total += loss.detach()
        opt.step()
        losses.append(total)
        if len(losses) >= sync_every:
            torch.stack(losses).cpu()
            losses.clear()

    for cfgs in plan[:2]:  # warm-up
        step(cfgs)
    _sync(device)
    t0 = time.perf_counter()
    for cfgs in plan[2:]:
        step(cfgs)
    if losses:
        torch.stack(losses).cpu()
    _sync(device)
    return time.perf_counter() - t0


def time_run_epoch(net, plan, x, y, device, autocast) -> float:
    """Seconds for natv2's own trainer step over the same subnets and batch."""
    from natv2.train.dist import DistContext
    from natv2.train.optim import WarmupCosine, make_sgd
    from natv2.train.steps import EpochContext, LossSpec, run_epoch

    class Planned:
        """Replays the plan's subnets in order (the trainer asks once per subnet)."""

        def __init__(self):
            self.queue = [c for cfgs in plan for c in cfgs]

        def sample(self, rng):
            return self.queue.pop(0)

    opt = make_sgd(net, 0.01, 0.9, True, 3e-5, True)
    ec = EpochContext(net, opt, WarmupCosine(0.01, 0, 1000), Planned(), LossSpec(0.1, 0.0), len(plan[0]),
                      DistContext(device=device), None, channels_last=False, autocast=autocast)
    batches = iter([(x, y)] * len(plan))
    run_epoch(ec, batches, 2, 0)
    _sync(device)
    t0 = time.perf_counter()
    run_epoch(ec, batches, len(plan) - 2, 2)
    _sync(device)
    return time.perf_counter() - t0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, nargs="+", default=[64])
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10, help="timed steps per round (2 warm-up steps come on top)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--subnets-per-step", type=int, default=4, help="subnets per step in the elastic mode")
    ap.add_argument("--modes", nargs="+", default=["full", "elastic"], choices=["full", "elastic"])
    ap.add_argument("--sync-every", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    from natv2.train.trainer import make_autocast

    autocast = make_autocast("auto", device)
    ref, net = build_pair(device, args.res)

    def act_ref(cfg):
        ref.set_active_subnet(ks=list(cfg.ks), e=list(cfg.e), d=list(cfg.d))

    results = []
    for mode in args.modes:
        for batch in args.batch:
            g = torch.Generator().manual_seed(1)
            x = torch.randn(batch, 3, args.res, args.res, generator=g).to(device)
            y = torch.randint(0, 10, (batch,), generator=g).to(device)
            times: dict[str, list[float]] = {k: [] for k in ("ofa_own", "ofa_loop", "natv2_loop", "natv2_run_epoch")}
            for rnd in range(args.rounds):
                plan = subnet_plan(net.space, mode, args.steps + 2, args.subnets_per_step, seed=rnd)
                times["ofa_own"].append(time_loop(ref, act_ref, plan, x, y, device, 1, autocast))
                times["ofa_loop"].append(time_loop(ref, act_ref, plan, x, y, device, args.sync_every, autocast))
                times["natv2_loop"].append(time_loop(net, net.set_active_subnet, plan, x, y, device, args.sync_every,
                                                     autocast))
                times["natv2_run_epoch"].append(time_run_epoch(net, plan, x, y, device, autocast))
            ips = {k: batch * args.steps / statistics.median(v) for k, v in times.items()}
            results.append({"mode": mode, "batch": batch, "images_per_s": ips, "seconds": times})
            print(f"  {mode} batch {batch}: " + ", ".join(f"{k} {v:.0f}" for k, v in ips.items()), flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    lines = [f"### bench/train_vs_ofa.py: ofa_mbv3 (natv2) vs OFAMobileNetV3 (ofa package), r {args.res}",
             "",
             f"{dt.date.today()} · {name} · torch {torch.__version__} · {args.rounds} interleaved rounds of "
             f"{args.steps} steps, median · elastic = {args.subnets_per_step} random subnets per step",
             "",
             "| mode | batch | ofa, own loop (img/s) | ofa, natv2 loop | natv2 model, same loop | natv2 run_epoch | "
             "natv2 run_epoch / ofa own | natv2 model / ofa model |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        i = r["images_per_s"]
        lines.append(f"| {r['mode']} | {r['batch']} | {i['ofa_own']:.0f} | {i['ofa_loop']:.0f} | {i['natv2_loop']:.0f} | "
                     f"{i['natv2_run_epoch']:.0f} | {i['natv2_run_epoch'] / i['ofa_own']:.2f}x | "
                     f"{i['natv2_loop'] / i['ofa_loop']:.2f}x |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1))


if __name__ == "__main__":
    main()
