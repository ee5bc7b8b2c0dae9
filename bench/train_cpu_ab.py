"""The CPU training step now against the previous one, interleaved in one process.

Issue 13 changed the step for GPUs; on the CPU the only change on the hot path is that a weight used
whole is no longer sliced (`natv2.nn.ops.leading`). This bench restores the previous behaviour (always
slice) in the same process and alternates the two, step block by step block, so a shared, noisy
machine loads both alike; within a round both variants replay the same steps, so they train the same
sampled subnets. It reports the median images/s of each and their ratio.

    .venv/bin/python bench/train_cpu_ab.py --phase full expand_2 --batch 32 --rounds 6 --steps 2 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import platform
import statistics
import time

import torch


def always_slice(t: torch.Tensor, *sizes: int) -> torch.Tensor:
    """The previous behaviour: `t[:a, :b]` even when nothing is cut."""
    return t[tuple(slice(0, n) for n in sizes)]


def make_context(phase_name: str, batch: int, res: int):
    from natv2.supernets import create
    from natv2.train.config import TrainConfig
    from natv2.train.dist import DistContext
    from natv2.train.optim import WarmupCosine, make_sgd
    from natv2.train.recipes import build_phases
    from natv2.train.steps import EpochContext, LossSpec, SpaceSampler
    from natv2.train.teacher import Teacher, extract_max_teacher

    torch.manual_seed(0)
    net = create("ofav2_ee_d", 10, r=[res])
    cfg = TrainConfig(supernet="ofav2_ee_d")
    phase = next(p for p in build_phases(net.space, cfg.resolved_recipe()) if p.name == phase_name)
    teacher = None
    if phase.kind == "elastic":
        teacher = Teacher(extract_max_teacher(copy.deepcopy(net), True), "train", cfg.exit_ensemble_weights)
    all_exits = tuple(range(1, max(net.space.nd) + 1)) if phase.kind == "full" else None
    ec = EpochContext(net, make_sgd(net, 0.01, 0.9, True, 3e-5, True), WarmupCosine(phase.base_lr, 0, 1000),
                      SpaceSampler(phase.space), LossSpec(0.1, 1.0, False, cfg.exit_loss_weights, all_exits),
                      phase.subnets_per_step, DistContext(), teacher, channels_last=False)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 3, res, res, generator=g).contiguous(memory_format=torch.channels_last)  # as the loaders give
    y = torch.randint(0, 10, (batch,), generator=g)
    return ec, x, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phase", nargs="+", default=["full", "expand_2"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--res", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--steps", type=int, default=2, help="steps per block (one block per variant per round)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import natv2.supernets.dynamic as dynamic
    from natv2.nn.ops import leading
    from natv2.train.steps import run_epoch

    rows = []
    for phase in args.phase:
        ec, x, y = make_context(phase, args.batch, args.res)
        step = 0
        times: dict[str, list[float]] = {"previous": [], "now": []}
        for rnd in range(args.rounds + 1):  # round 0 warms both up
            for name, fn in (("previous", always_slice), ("now", leading)) if rnd % 2 else (("now", leading), ("previous", always_slice)):
                dynamic.leading = fn
                t0 = time.perf_counter()
                run_epoch(ec, iter([(x, y)] * args.steps), args.steps, step)  # same steps: same sampled subnets
                dt_s = time.perf_counter() - t0
                if rnd:
                    times[name].append(args.batch * args.steps / dt_s)
            step += args.steps
        dynamic.leading = leading
        prev, now = statistics.median(times["previous"]), statistics.median(times["now"])
        rows.append((phase, prev, now))
        print(f"  {phase}: previous {prev:.1f}, now {now:.1f} images/s", flush=True)
    print(f"\n### bench/train_cpu_ab.py: ofav2_ee_d, batch {args.batch}, {args.res} px, {args.rounds} rounds of "
          f"{args.steps} steps per variant, alternating\n")
    print(f"{dt.date.today()} · {platform.processor() or platform.machine()} · threads {args.threads} · torch {torch.__version__}\n")
    print("| phase | previous step (images/s) | now (images/s) | now / previous |\n|---|---|---|---|")
    for phase, prev, now in rows:
        print(f"| {phase} | {prev:.1f} | {now:.1f} | {now / prev:.2f}x |")


if __name__ == "__main__":
    main()
