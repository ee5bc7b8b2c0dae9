"""Distributed data parallelism for supernet training, one code path for 1..N processes.

Started by `torchrun` (env RANK/WORLD_SIZE/LOCAL_RANK) the trainer joins a process group (gloo on
CPU, NCCL on CUDA); started plainly it runs as a group of one. Gradients are averaged with one
flattened all-reduce per optimiser step rather than by `DistributedDataParallel`: every step
back-propagates several *different* subnets into one set of gradients, which DDP can only follow
with `find_unused_parameters` and `no_sync`; since every rank samples the same subnets, the set of
parameters with gradients is the same on every rank and one all-reduce after the last backward
is exact and cheaper.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.distributed as torch_dist
from torch import nn

from natv2.device import resolve_device


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group; `world_size == 1` means no process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            torch_dist.barrier()

    def close(self) -> None:
        if self.owns_group and torch_dist.is_initialized():
            torch_dist.destroy_process_group()


def init_distributed(device: str = "auto") -> DistContext:
    """Join the torchrun group if the environment says so; otherwise a group of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local % max(1, torch.cuda.device_count()))
        torch.cuda.set_device(dev)
    if world <= 1:
        return DistContext(device=dev)
    owns = False
    if not torch_dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        torch_dist.init_process_group(backend=backend, rank=rank, world_size=world)
        owns = True
    return DistContext(rank=rank, world_size=world, local_rank=local, device=dev, owns_group=owns)


def broadcast_model(model: nn.Module, ctx: DistContext) -> None:
    """Rank 0's parameters and buffers everywhere (identical seeds make this a no-op, but cheap insurance)."""
    if not ctx.distributed:
        return
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            torch_dist.broadcast(t.data, src=0)


def average_gradients(params: Sequence[nn.Parameter], ctx: DistContext, extra: torch.Tensor) -> torch.Tensor:
    """Average the gradients of `params` (those with one) and the small `extra` vector over ranks.

    `extra` carries step statistics (loss sum, non-finite flag) in the same collective. Returns the
    averaged `extra`.
    """
    if not ctx.distributed:
        return extra
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads] + [extra.to(grads[0].device if grads else extra.device, torch.float32)])
    torch_dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n
    return flat[offset:].to(extra.device)


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    torch_dist.all_gather_object(out, obj)
    return out
