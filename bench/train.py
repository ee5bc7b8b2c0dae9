"""Supernet training throughput: images/s of a training phase and where the time goes.

Runs `steps` optimiser steps of one phase (the phase's space, subnets per step, teacher and loss,
exactly as `natv2 train-supernet` does) on CIFAR-10 batches from natv2.data, and splits the wall
time into data, subnet sampling, teacher, forward+backward and optimiser (all-reduce included).
Several phases, batch sizes, memory layouts and loss-read intervals can be measured in one run
(one row each); --json keeps the numbers. On a GPU the data lives on the device (as
`data.on_device: auto` does) unless --data-on-host.

    .venv/bin/python bench/train.py --supernet ofav2_ee_d --phase expand_2 --steps 6 --threads 2
    .venv/bin/python bench/train.py --device cuda --data synthetic --phase full expand_2 --batch 256 1024 --steps 30
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import itertools
import json
import platform
import time
from pathlib import Path

import torch


def synthetic_splits(n: int, size: int = 32, n_classes: int = 10):
    """CIFAR-shaped random uint8 images (for machines without the dataset), same loaders and transforms."""
    from natv2.data.splits import DatasetSplits, ImageSplit

    g = torch.Generator().manual_seed(0)
    split = lambda m: ImageSplit(torch.randint(0, 256, (m, 3, size, size), dtype=torch.uint8, generator=g),  # noqa: E731
                                 torch.randint(0, n_classes, (m,), generator=g))
    return DatasetSplits("synthetic", split(n), split(64), split(64), [str(i) for i in range(n_classes)],
                         (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "random", "")


def measure(args, phase_name: str, batch: int, channels_last: bool, sync_every: int | None, amp: str = "auto") -> dict:
    from natv2.data import DataConfig, load_dataset
    from natv2.supernets import create
    from natv2.train.config import TrainConfig
    from natv2.train.data import SplitsTrainingData
    from natv2.train.dist import init_distributed
    from natv2.train.optim import WarmupCosine, make_sgd
    from natv2.train.recipes import build_phases
    from natv2.train.steps import EpochContext, LossSpec, SpaceSampler, StepTimes, run_epoch
    from natv2.train.teacher import Teacher, extract_max_teacher
    from natv2.train.trainer import make_autocast

    dist = init_distributed(args.device)
    data_cfg = DataConfig(name="cifar10", train_subset=batch * (args.steps + args.warmup), val_size=500,
                          batch_size=batch, on_device="off" if args.data_on_host else "auto")
    splits = load_dataset(data_cfg) if args.data == "cifar10" else synthetic_splits(batch * (args.steps + args.warmup))
    data = SplitsTrainingData(splits, data_cfg, seed=0, device=dist.device)
    torch.manual_seed(0)
    net = create(args.supernet, data.n_classes, r=args.res).to(dist.device)
    cfg = TrainConfig(supernet=args.supernet, channels_last=channels_last, amp=amp)
    phase = next(p for p in build_phases(net.space, cfg.resolved_recipe()) if p.name == phase_name)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    teacher = None
    has_exits = net.space.nd is not None
    if phase.kind == "elastic":
        tnet = extract_max_teacher(copy.deepcopy(net), has_exits).to(dist.device)
        if channels_last:
            tnet = tnet.to(memory_format=torch.channels_last)
        teacher = Teacher(tnet, "train", cfg.exit_ensemble_weights)
    all_exits = tuple(range(1, max(net.space.nd) + 1)) if (phase.kind == "full" and has_exits) else None
    autocast = make_autocast(cfg.amp, dist.device)
    opt = make_sgd(net, 0.01, 0.9, True, 3e-5, True)
    ec = EpochContext(net, opt, WarmupCosine(phase.base_lr, 0, 1000), SpaceSampler(phase.space),
                      LossSpec(0.1, 1.0, False, cfg.exit_loss_weights, all_exits), phase.subnets_per_step, dist,
                      teacher, channels_last=channels_last, autocast=autocast, seed_parts=(0, 0, 0),
                      sync_timing=args.breakdown and dist.device.type == "cuda", sync_every=sync_every)
    # warm-up steps (allocator, kernel loading and algorithm choice at every resolution), then the timed ones
    run_epoch(ec, data.train_batches(1, net.space.r, 0, 1), args.warmup, 0)
    if dist.device.type == "cuda":
        torch.cuda.synchronize(dist.device)
    times = StepTimes()
    t0 = time.perf_counter()
    run_epoch(ec, data.train_batches(2, net.space.r, 0, 1), args.steps, 0, times=times)
    if dist.device.type == "cuda":
        torch.cuda.synchronize(dist.device)
    wall = time.perf_counter() - t0
    out = times.as_dict()
    out.update(wall=wall, images_per_s=times.images / wall, phase=phase.name, subnets=phase.subnets_per_step,
               device=str(dist.device), batch=batch, layout="channels_last" if channels_last else "contiguous",
               sync_every=ec.resolved_sync_every(), amp=amp)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--supernet", default="ofav2_ee_d")
    ap.add_argument("--phase", nargs="+", default=["expand_2"],
                    help="phases of the supernet's recipe (full, kernel, ..., expand_2)")
    ap.add_argument("--res", type=int, nargs="+", default=[24, 28, 32])
    ap.add_argument("--batch", type=int, nargs="+", default=[64])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first (a GPU needs several per resolution)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", choices=["cifar10", "synthetic"], default="cifar10")
    ap.add_argument("--data-on-host", action="store_true", help="keep the images in host memory (data.on_device: off)")
    ap.add_argument("--layout", choices=["contiguous", "channels_last", "both"], default="contiguous")
    ap.add_argument("--compare-contiguous", action="store_true", help="same as --layout both")
    ap.add_argument("--sync-every", type=int, nargs="+", default=[0],
                    help="steps between host reads of the loss; 0 = the trainer's default for the device")
    ap.add_argument("--amp", nargs="+", choices=["auto", "bf16", "off"], default=["auto"],
                    help="autocast setting(s) of train.amp to measure (auto: bf16 on CUDA, off on the CPU)")
    ap.add_argument("--breakdown", action="store_true",
                    help="synchronise around each part on a GPU (exact split of the time, slower steps)")
    ap.add_argument("--json", type=Path, default=None, help="write every row's numbers to this file")
    ap.add_argument("--append", type=Path, default=None, help="append the table to this markdown file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    layouts = {"contiguous": [False], "channels_last": [True], "both": [True, False]}[
        "both" if args.compare_contiguous else args.layout]
    rows = []
    for phase, batch, cl, every, amp in itertools.product(args.phase, args.batch, layouts, args.sync_every, args.amp):
        r = measure(args, phase, batch, cl, every or None, amp)
        rows.append(r)
        print(f"  {phase} batch {batch} {r['layout']} sync_every {r['sync_every']} amp {amp}: {r['images_per_s']:.1f} images/s",
              flush=True)
    lines = [
        f"### bench/train.py: {args.supernet}, phases {' '.join(args.phase)}, r {args.res}, {args.steps} steps",
        "",
        f"{dt.date.today()} · {platform.processor() or platform.machine()} · device {rows[0]['device']}"
        f"{' (' + torch.cuda.get_device_name() + ')' if rows[0]['device'].startswith('cuda') else ''} · "
        f"threads {args.threads} · torch {torch.__version__} · data {args.data}"
        f"{' on host' if args.data_on_host else ''}",
        "",
        "| phase (subnets/step) | batch | layout | loss read every | amp | images/s | data % | sampling % | teacher % | "
        "fwd+bwd % | optimiser % |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        tot = r["wall"]
        pct = {k: 100 * r[k] / tot for k in ("data", "sampling", "teacher", "forward_backward", "optimizer")}
        lines.append(f"| {r['phase']} ({r['subnets']}) | {r['batch']} | {r['layout']} | {r['sync_every']} | {r['amp']} | "
                     f"{r['images_per_s']:.1f} | {pct['data']:.1f} | {pct['sampling']:.1f} | {pct['teacher']:.1f} | "
                     f"{pct['forward_backward']:.1f} | {pct['optimizer']:.1f} |")
    if not args.breakdown and rows[0]["device"].startswith("cuda"):
        lines.append("\n(GPU without --breakdown: the parts are host times of asynchronous launches, not device time.)")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}, indent=1))
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
