"""Why a phase's first steps cost tens of seconds on a GPU: the first forward + backward of each new
layer shape, by convolution back-end.

On an H200, each training phase that brings new layer shapes (kernel sizes, expand ratios, resolutions)
spent 30-40 s on its first steps (bench/RESULTS.md). This bench times, for the pointwise and depthwise
convolutions of `ofav2_ee_d` at every expand ratio, kernel size and resolution, the first call of each
shape and a repeat call, under each back-end:

- `cudnn`: F.conv2d with cuDNN (the default);
- `native`: F.conv2d with cuDNN switched off (PyTorch's own CUDA kernels);
- `matmul` (pointwise only): the 1x1 convolution as a batched matrix product (cuBLAS).

A large first/repeat gap that one back-end does not have names the fix.

    python bench/gpu_warmup.py --device cuda --batch 1024
    .venv/bin/python bench/gpu_warmup.py --device cpu --batch 8 --limit 6     # checks the script itself
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
import torch.nn.functional as F


def shapes(res_list, limit):
    """(kind, channels_in, channels_out, kernel, size) of the elastic layers of `ofav2_ee_d`: the first
    block of each stage, pointwise expand at every expand ratio and depthwise at every kernel size, at
    each resolution (channel counts before rounding to multiples of 8: close enough to time set-up)."""
    from natv2.supernets import create

    arch = create("ofav2_ee_d", 10, r=list(res_list)).arch
    out = []
    for res in res_list:
        size, cin = max(1, res // 2), arch.first_block  # after the stride-2 stem
        for c, stride in zip(arch.stage_channels, arch.strides):
            for e in arch.e:
                mid = int(cin * e)
                out.append(("pointwise", cin, mid, 1, size))
                out += [("depthwise", mid, mid, k, size) for k in arch.ks]
            size, cin = max(1, size // stride), c
    return out[:limit] if limit else out


def run(kind, backend, cin, cout, k, size, batch, device):
    x = torch.randn(batch, cin, size, size, device=device, requires_grad=True)
    if kind == "pointwise":
        w = torch.randn(cout, cin, 1, 1, device=device, requires_grad=True)
        if backend == "matmul":
            y = torch.matmul(w.view(cout, cin), x.flatten(2)).view(batch, cout, size, size)
        else:
            y = F.conv2d(x, w)
    else:
        w = torch.randn(cout, 1, k, k, device=device, requires_grad=True)
        y = F.conv2d(x, w, None, 1, k // 2, 1, cin)
    y.float().sum().backward()


def timed(fn, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--res", type=int, nargs="+", default=[24, 28, 32])
    ap.add_argument("--limit", type=int, default=0, help="first N shapes only (0: all)")
    args = ap.parse_args()
    device = torch.device(args.device)
    all_shapes = shapes(args.res, args.limit)
    rows = []
    for backend in ("cudnn", "native", "matmul"):
        first = repeat = 0.0
        n = 0
        with torch.backends.cudnn.flags(enabled=backend == "cudnn"), torch.autocast(device.type, torch.bfloat16):
            for kind, cin, cout, k, size in all_shapes:
                if backend == "matmul" and kind != "pointwise":
                    continue
                first += timed(lambda: run(kind, backend, cin, cout, k, size, args.batch, device), device)
                repeat += timed(lambda: run(kind, backend, cin, cout, k, size, args.batch, device), device)
                n += 1
        rows.append((backend, n, first, repeat))
        print(f"  {backend}: {n} shapes, first calls {first:.2f} s, repeats {repeat:.2f} s", flush=True)
    print(f"\n### bench/gpu_warmup.py: {args.device}, batch {args.batch}, r {args.res}\n")
    print("| back-end | shapes | first calls (s) | repeat calls (s) | first - repeat (s) |\n|---|---|---|---|---|")
    for backend, n, first, repeat in rows:
        print(f"| {backend} | {n} | {first:.2f} | {repeat:.2f} | {first - repeat:.2f} |")
    print("\nEach back-end runs after the previous ones in one process: shapes a back-end shares with an earlier one"
          " (cuDNN off reuses nothing of cuDNN's) are first calls for it too, except CUDA's own lazy module loading.")


if __name__ == "__main__":
    main()
