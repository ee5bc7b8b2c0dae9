"""Supernet training throughput: images/s of a training phase and where the time goes.

Runs `steps` optimiser steps of one phase (the phase's space, subnets per step, teacher and loss,
exactly as `natv2 train-supernet` does) on CIFAR-10 batches from natv2.data, and splits the wall
time into data, subnet sampling, teacher, forward+backward and optimiser (all-reduce included).
With --compare-contiguous the same steps also run without channels_last (the reference ratio).

    .venv/bin/python bench/train.py --supernet ofav2_ee_d --phase expand_2 --steps 6 --threads 2
    .venv/bin/python bench/train.py --device cuda --batch 256 --steps 30          # GPU (bf16 autocast)
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
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


def measure(args, channels_last: bool) -> dict:
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
    data_cfg = DataConfig(name="cifar10", train_subset=args.batch * (args.steps + 2), val_size=500,
                          batch_size=args.batch)
    splits = load_dataset(data_cfg) if args.data == "cifar10" else synthetic_splits(args.batch * (args.steps + 2))
    data = SplitsTrainingData(splits, data_cfg, seed=0)
    torch.manual_seed(0)
    net = create(args.supernet, data.n_classes, r=args.res).to(dist.device)
    cfg = TrainConfig(supernet=args.supernet, channels_last=channels_last)
    phase = next(p for p in build_phases(net.space, cfg.resolved_recipe()) if p.name == args.phase)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    teacher = None
    has_exits = net.space.nd is not None
    if phase.kind == "elastic":
        tnet = extract_max_teacher(copy.deepcopy(net), has_exits).to(dist.device)
        if channels_last:
            tnet = tnet.to(memory_format=torch.channels_last)
        teacher = Teacher(tnet, "train", cfg.exit_ensemble_weights)
    all_exits = tuple(range(1, 6)) if (phase.kind == "full" and has_exits) else None
    autocast = make_autocast(cfg.amp, dist.device)
    opt = make_sgd(net, 0.01, 0.9, True, 3e-5, True)
    ec = EpochContext(net, opt, WarmupCosine(phase.base_lr, 0, 1000), SpaceSampler(phase.space),
                      LossSpec(0.1, 1.0, False, cfg.exit_loss_weights, all_exits), phase.subnets_per_step, dist,
                      teacher, channels_last=channels_last, autocast=autocast, seed_parts=(0, 0, 0),
                      sync_timing=dist.device.type == "cuda")
    # warm-up steps (allocator, autotuning), then the timed ones
    run_epoch(ec, data.train_batches(1, net.space.r, 0, 1), 2, 0)
    times = StepTimes()
    t0 = time.perf_counter()
    run_epoch(ec, data.train_batches(2, net.space.r, 0, 1), args.steps, 0, times=times)
    wall = time.perf_counter() - t0
    out = times.as_dict()
    out.update(wall=wall, images_per_s=times.images / wall, phase=phase.name, subnets=phase.subnets_per_step,
               device=str(dist.device))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--supernet", default="ofav2_ee_d")
    ap.add_argument("--phase", default="expand_2", help="a phase of the supernet's recipe (full, kernel, ..., expand_2)")
    ap.add_argument("--res", type=int, nargs="+", default=[24, 28, 32])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data", choices=["cifar10", "synthetic"], default="cifar10")
    ap.add_argument("--compare-contiguous", action="store_true", help="also time NCHW-contiguous (reference)")
    ap.add_argument("--append", type=Path, default=None, help="append the table to this markdown file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [("channels_last", measure(args, True))]
    if args.compare_contiguous:
        rows.append(("contiguous", measure(args, False)))
    lines = [
        f"### bench/train.py: {args.supernet} phase {rows[0][1]['phase']} ({rows[0][1]['subnets']} subnets/step), "
        f"batch {args.batch}, r {args.res}, {args.steps} steps",
        "",
        f"{dt.date.today()} · {platform.processor() or platform.machine()} · device {rows[0][1]['device']} · "
        f"threads {args.threads} · torch {torch.__version__}",
        f"command: `.venv/bin/python bench/train.py --supernet {args.supernet} --phase {args.phase} "
        f"--batch {args.batch} --steps {args.steps} --threads {args.threads} --device {args.device} --data {args.data}"
        f"{' --compare-contiguous' if args.compare_contiguous else ''}`",
        "",
        "| layout | images/s | data % | sampling % | teacher % | fwd+bwd % | optimiser % | outside fwd+bwd % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        tot = r["wall"]
        pct = {k: 100 * r[k] / tot for k in ("data", "sampling", "teacher", "forward_backward", "optimizer")}
        lines.append(f"| {name} | {r['images_per_s']:.1f} | {pct['data']:.1f} | {pct['sampling']:.1f} | "
                     f"{pct['teacher']:.1f} | {pct['forward_backward']:.1f} | {pct['optimizer']:.1f} | "
                     f"{100 - pct['forward_backward']:.1f} |")
    if len(rows) == 2:
        lines.append(f"\nchannels_last / contiguous: {rows[0][1]['images_per_s'] / rows[1][1]['images_per_s']:.2f}x")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
