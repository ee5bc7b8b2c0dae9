"""What a fine-tuning step minimises and predicts: plain CE for one exit, sum alpha_i CE_i for AEP.

The losses themselves are natv2.train.losses' (one definition for supernet training and here).

Each objective returns (loss, logits) from one forward pass, so training and evaluation share it.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import torch
from torch import nn

from natv2.nn.multi_exit import MultiExitEnsemble
from natv2.train.losses import aep_loss, label_smoothed_ce


class Objective(Protocol):
    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ...


class SingleExitObjective:
    """Cross-entropy (label smoothing 0 in §4.7) on the network's one output."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = model(x)
        return label_smoothed_ce(logits, y, self.label_smoothing), logits


class MultiExitObjective:
    """AEP joint loss L = sum_i alpha_i CE(O_i, y); the prediction is the beta-weighted ensemble."""

    def __init__(self, alpha: Sequence[float], label_smoothing: float = 0.0) -> None:
        self.alpha = [float(a) for a in alpha]
        self.label_smoothing = float(label_smoothing)

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(model, MultiExitEnsemble):
            raise TypeError("MultiExitObjective needs a MultiExitEnsemble")
        outs = model.forward_exits(x)
        if len(outs) != len(self.alpha):
            raise ValueError(f"{len(outs)} exits but {len(self.alpha)} loss weights")
        return aep_loss(outs, y, self.alpha, self.label_smoothing), model.combine(outs)
