"""The multi-exit (AEP) network: exits 1..nd of an early-exit subnet, combined by weighted logits.

It lives with the other network modules (not with fine-tuning) because an exported model is one:
`natv2.load_model` rebuilds it without importing any training code.

`body` is the static module that natv2.supernets extracts with `extract_subnet(exits=[1..nd])`;
it returns one logit tensor per exit. The ensemble's prediction is sum_i beta_i * logits_i
(raw logits, as in OFAv2's AEP run manager), so `forward` gives a plain classifier and
`forward_exits` gives what the joint loss needs.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def normalise_weights(weights: Sequence[float], n: int | None = None) -> list[float]:
    """The last `n` weights (exit 1 first) rescaled to sum to 1; a teacher with fewer exits uses
    the weights of its deepest exits."""
    w = [float(v) for v in weights]
    if n is not None:
        if n > len(w):
            raise ValueError(f"{n} exits but only {len(w)} exit weights")
        w = w[len(w) - n :] if n < len(w) else w
    total = sum(w)
    return [v / total for v in w]


class MultiExitEnsemble(nn.Module):
    """Weighted-logit ensemble over the exits of one network (beta is a non-trainable constant)."""

    def __init__(self, body: nn.Module, beta: Sequence[float], exits: Sequence[int]) -> None:
        super().__init__()
        if len(beta) != len(exits):
            raise ValueError(f"{len(beta)} output weights for {len(exits)} exits")
        self.body = body
        self.exits = tuple(int(e) for e in exits)
        # Not persistent: the weights live in the saved JSON config, the state dict stays the body's.
        # Normalised to sum 1 exactly as natv2.train.losses.ensemble_logits does.
        self.register_buffer("beta", torch.tensor(normalise_weights(beta)), persistent=False)

    def forward_exits(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = self.body(x)
        return list(outs)

    def combine(self, outs: Sequence[torch.Tensor]) -> torch.Tensor:
        total = outs[0] * self.beta[0]
        for i in range(1, len(outs)):
            total = total + outs[i] * self.beta[i]
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.forward_exits(x))


class AllOutputs(nn.Module):
    """Export view of a multi-exit network: one output per exit, then the ensembled output."""

    def __init__(self, model: MultiExitEnsemble) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = self.model.forward_exits(x)
        return tuple(outs) + (self.model.combine(outs),)
