"""Data-path throughput: augmented training batches per second at 32 and 64 px, evaluation
batches, and the cached (second) load time of CIFAR-10.

The loader path measured is the real one (seeded TrainLoader: gather + crop + flip + resize +
normalise, channels_last float32). The reference is the same pad-and-crop done image by image
in a Python loop (torch slicing + F.interpolate per image), to show what vectorising buys.

    python bench/data.py                      # CIFAR-10 from $NATV2_TEST_DATA or discovery
    python bench/data.py --synthetic          # random CIFAR-shaped images (no data needed)

Appends a section to bench/RESULTS.md unless --no-append. Goal: >= 20,000 images/s at 32 px
on 2 cores (the data path must never limit training).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from natv2.data import DataConfig, load_dataset  # noqa: E402
from natv2.data.augment import make_eval_transform, make_train_transform  # noqa: E402
from natv2.data.loaders import TrainLoader, seeded_generator  # noqa: E402
from natv2.data.splits import DatasetSplits, ImageSplit, channel_stats  # noqa: E402


def timed_load(cfg: DataConfig) -> tuple[float, DatasetSplits]:
    t0 = time.perf_counter()
    splits = load_dataset(cfg)
    return time.perf_counter() - t0, splits


def synthetic_splits() -> DatasetSplits:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (45000, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (45000,), generator=g)
    train = ImageSplit(images, labels)
    mean, std = channel_stats(images[:5000])
    empty = ImageSplit(images[:0], labels[:0])
    return DatasetSplits("synthetic", train, empty, empty, [str(i) for i in range(10)], mean, std, "random", "")


def loader_rate(splits: DatasetSplits, cfg: DataConfig, res: int, batch: int, steps: int) -> tuple[float, float]:
    """(batches/s, images/s) of the training loader, best of 3 repeats of `steps` batches."""
    transform = make_train_transform(cfg, splits.mean, splits.std)
    loader = TrainLoader(splits.train, transform, batch, resolution=res, seed=0)
    best = float("inf")
    for rep in range(4):  # first repeat warms up
        it = loader.batches(rep)
        t0 = time.perf_counter()
        for _ in range(steps):
            x, _ = next(it)
        dt_ = time.perf_counter() - t0
        if rep:
            best = min(best, dt_)
    assert x.shape == (batch, 3, res, res) and x.is_contiguous(memory_format=torch.channels_last)
    return steps / best, steps * batch / best


def eval_rate(splits: DatasetSplits, cfg: DataConfig, res: int, batch: int, steps: int) -> float:
    """images/s of the evaluation transform (gather + resize + normalise), best of 3 repeats."""
    transform = make_eval_transform(cfg, splits.mean, splits.std, splits.image_size)
    n = len(splits.train)
    best = float("inf")
    for rep in range(4):  # first repeat warms up
        t0 = time.perf_counter()
        for step in range(steps):
            idx = torch.arange(step * batch, (step + 1) * batch) % n
            transform(splits.train.images.index_select(0, idx), res)
        if rep:
            best = min(best, time.perf_counter() - t0)
    return steps * batch / best


def per_image_reference(splits: DatasetSplits, res: int, batch: int, steps: int, pad: int = 4) -> float:
    """images/s of pad-crop + flip + resize + normalise done one image at a time."""
    mean = torch.tensor(splits.mean).view(3, 1, 1) * 255
    std = torch.tensor(splits.std).view(3, 1, 1) * 255
    gen = seeded_generator(0)
    n = len(splits.train)
    t0 = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, n, (batch,), generator=gen)
        out = []
        for i in idx.tolist():
            img = F.pad(splits.train.images[i], (pad, pad, pad, pad)).float()
            oy, ox = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=gen))
            crop = img[:, oy : oy + 32, ox : ox + 32]
            if torch.rand(1, generator=gen).item() < 0.5:
                crop = crop.flip(2)
            if res != 32:
                crop = F.interpolate(crop[None], size=(res, res), mode="bilinear", align_corners=False)[0]
            out.append((crop - mean) / std)
        torch.stack(out).contiguous(memory_format=torch.channels_last)
    return steps * batch / (time.perf_counter() - t0)


def machine() -> str:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    except OSError:
        pass
    return (f"{platform.machine()} ({model or 'cpu model unknown'}), {usable} usable of {cores} cores, load {load:.1f} at start, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", help="CIFAR-10 folder (default: $NATV2_TEST_DATA/cifar10, else discovery)")
    ap.add_argument("--cache-dir", help="decode cache (default: a fresh temp folder, so the first load decodes)")
    ap.add_argument("--synthetic", action="store_true", help="random CIFAR-shaped data; skips the load timing")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--no-append", action="store_true", help="do not append to the results file")
    ap.add_argument("--results", default=str(REPO / "bench" / "RESULTS.md"), help="markdown file to append to")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    info = machine()

    load_line = ""
    if args.synthetic:
        splits = synthetic_splits()
    else:
        root = args.root
        if root is None and os.environ.get("NATV2_TEST_DATA"):
            root = str(Path(os.environ["NATV2_TEST_DATA"]) / "cifar10")
        cache = args.cache_dir or tempfile.mkdtemp(prefix="natv2-bench-cache-")
        cfg = DataConfig(name="cifar10", root=root, cache_dir=cache)
        first, splits = timed_load(cfg)
        again = [timed_load(cfg)[0] for _ in range(3)]
        load_line = (f"CIFAR-10 load: first {first:.2f} s ({'decoded' if args.cache_dir is None else 'cache as found'}), "
                     f"second (cached) {statistics.median(again):.2f} s (median of 3: "
                     f"{', '.join(f'{t:.2f}' for t in again)}); {len(splits.train)}/{len(splits.val)}/{len(splits.test)} "
                     f"train/val/test.")
        print(load_line)

    rows = []
    for augment in ("pad_crop", "random_resized_crop"):
        cfg = DataConfig(name="cifar10", augment=augment)
        for res in (32, 64):
            bps, ips = loader_rate(splits, cfg, res, args.batch, args.steps)
            rows.append((f"train loader, {augment}", res, bps, ips))
            print(rows[-1], flush=True)
    for res in (32, 64):
        ips = eval_rate(splits, DataConfig(name="cifar10"), res, args.batch, args.steps)
        rows.append(("eval transform (resize)", res, ips / args.batch, ips))
        print(rows[-1], flush=True)
    ref = {}
    for res in (32, 64):
        ref[res] = per_image_reference(splits, res, args.batch, max(2, args.steps // 5))
        rows.append(("reference: pad_crop, per-image loop", res, ref[res] / args.batch, ref[res]))
        print(rows[-1], flush=True)

    table = ["| path | px | batches/s (batch %d) | images/s |" % args.batch, "|---|---|---|---|"]
    table += [f"| {name} | {res} | {bps:.1f} | {ips:,.0f} |" for name, res, bps, ips in rows]
    pad32 = next(r[3] for r in rows if r[0] == "train loader, pad_crop" and r[1] == 32)
    pad64 = next(r[3] for r in rows if r[0] == "train loader, pad_crop" and r[1] == 64)
    verdict = (f"Vectorised pad_crop vs per-image loop: {pad32 / ref[32]:.0f}x at 32 px, {pad64 / ref[64]:.0f}x at 64 px. "
               f"Goal >= 20,000 images/s at 32 px: {'met' if pad32 >= 20000 else 'NOT met'} ({pad32:,.0f}).")
    print("\n".join(table))
    print(verdict)
    if not args.no_append:
        cmd = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__, REPO), *sys.argv[1:]])
        section = [
            "", f"### data path throughput ({dt.date.today().isoformat()})", "",
            f"Machine: {info}; torch threads {args.threads}. Command: `{cmd}`",
            f"Data: {'synthetic CIFAR-shaped uint8 (45,000 x 3 x 32 x 32)' if args.synthetic else splits.source}.",
            "",
        ]
        section += [load_line, ""] if load_line else []
        section += table + ["", verdict, ""]
        with open(args.results, "a", encoding="utf-8") as fh:
            fh.write("\n".join(section) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
