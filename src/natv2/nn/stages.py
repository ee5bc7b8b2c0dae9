"""Body stages: a plain chain of blocks, or OFAv2's dense chain with extra skip connections."""

from __future__ import annotations

from typing import Any, Iterable

import torch
from torch import nn


def run_blocks(blocks: Iterable[nn.Module], x: torch.Tensor, dense: bool) -> torch.Tensor:
    """Run blocks in order; with `dense`, add OFAv2's extra skips (spec §2.3).

    With o_j the output of block j (1-based), block j+1 (or the stage output after the last block)
    receives o_j for j <= 2 and o_j + sum(o_1 .. o_{j-2}) for j >= 3. The stage input o_0 is never
    added (the first block changes its shape). All adds are out of place, so autograd is safe.
    """
    if not dense:
        for block in blocks:
            x = block(x)
        return x
    outs: list[torch.Tensor] = []
    skip: torch.Tensor | None = None  # running sum o_1 + ... + o_{j-2}
    h = x
    for j, block in enumerate(blocks, start=1):
        o = block(h)
        outs.append(o)
        if j >= 3:
            skip = outs[j - 3] if skip is None else skip + outs[j - 3]
            h = o + skip
        else:
            h = o
    return h


class Stage(nn.Module):
    """A static body stage: its blocks, plain or dense."""

    def __init__(self, blocks: Iterable[nn.Module], dense: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.dense = bool(dense)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_blocks(self.blocks, x, self.dense)

    @property
    def config(self) -> dict[str, Any]:
        return {"dense": self.dense, "blocks": [b.config for b in self.blocks]}
