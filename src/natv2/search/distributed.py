"""Evaluation sharded across `torchrun` ranks.

Every rank runs the (deterministic) search loop; only evaluation is split. Rank 0's candidate list is
broadcast first so all ranks evaluate the same list even if their loops ever disagreed; each rank
evaluates a strided shard and the accuracies are all-gathered back into the original order. Without an
initialised process group (or with one process) the evaluator is called directly. torch is never
imported here unless the caller already initialised torch.distributed.
"""

from __future__ import annotations

import sys
from typing import Callable, Sequence

from natv2.space import SubnetConfig

Evaluate = Callable[[Sequence[SubnetConfig]], Sequence[float]]


def _dist():
    """torch.distributed if a process group with more than one rank is up, else None."""
    mod = sys.modules.get("torch.distributed")
    if mod is None or not mod.is_available() or not mod.is_initialized() or mod.get_world_size() < 2:
        return None
    return mod


def rank() -> int:
    dist = _dist()
    return 0 if dist is None else int(dist.get_rank())


def is_main_process() -> bool:
    return rank() == 0


class ShardedEvaluate:
    """Wraps `evaluate` so each rank evaluates ``cfgs[rank::world]``; returns all results on every rank."""

    def __init__(self, evaluate: Evaluate) -> None:
        self.evaluate = evaluate
        self.last_shard_size = 0  # how many subnets this rank evaluated in the last call (for tests and logs)

    def __call__(self, cfgs: Sequence[SubnetConfig]) -> list[float]:
        dist = _dist()
        if dist is None:
            self.last_shard_size = len(cfgs)
            return [float(a) for a in self.evaluate(list(cfgs))]
        world, me = dist.get_world_size(), dist.get_rank()
        payload = [[c.to_dict() for c in cfgs]]
        dist.broadcast_object_list(payload, src=0)
        cfgs = [SubnetConfig.from_dict(d) for d in payload[0]]
        mine = cfgs[me::world]
        self.last_shard_size = len(mine)
        accs = [float(a) for a in self.evaluate(mine)] if mine else []
        if len(accs) != len(mine):
            raise ValueError(f"evaluate returned {len(accs)} accuracies for {len(mine)} subnets on rank {me}")
        gathered: list = [None] * world
        dist.all_gather_object(gathered, accs)
        out = [0.0] * len(cfgs)
        for r, part in enumerate(gathered):
            out[r::world] = part
        return out
