"""Check natv2's distributed path under torchrun: join the group the way the trainer does, average a
gradient-shaped vector with `average_gradients`, and compare with the known mean.

    torchrun --standalone --nproc_per_node=N bench/nccl_check.py      # NCCL on CUDA, gloo on CPU

With one process, `init_distributed` runs as a group of one (no collective); this script then
also initialises a one-member NCCL group itself, so the backend and an all-reduce are exercised.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as torch_dist
from torch import nn


def main() -> None:
    from natv2.train.dist import average_gradients, init_distributed

    device = "cuda" if torch.cuda.is_available() else "cpu"
    ctx = init_distributed(device)
    if not torch_dist.is_initialized():  # a group of one: make one anyway, to exercise the backend
        torch_dist.init_process_group("nccl" if device == "cuda" else "gloo", rank=0, world_size=1)
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    p = nn.Parameter(torch.zeros(1000, device=ctx.device))
    p.grad = torch.full((1000,), float(rank + 1), device=ctx.device)
    extra = torch.tensor([float(rank), 1.0], device=ctx.device)
    if world > 1:
        extra = average_gradients([p], ctx, extra)
    else:
        buf = torch.cat([p.grad, extra])
        torch_dist.all_reduce(buf)
        p.grad.copy_(buf[:1000])
        extra = buf[1000:]
    want = sum(range(1, world + 1)) / world
    ok = bool(torch.allclose(p.grad, torch.full_like(p.grad, want)))
    print(f"rank {rank}/{world} backend {torch_dist.get_backend()} device {ctx.device} "
          f"({torch.cuda.get_device_name(ctx.device) if device == 'cuda' else 'cpu'}): "
          f"grad mean {p.grad.mean().item():.3f} (want {want:.3f}) -> {'OK' if ok else 'WRONG'}; "
          f"LOCAL_RANK {os.environ.get('LOCAL_RANK')}", flush=True)
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
