"""Losses of supernet training: label-smoothed CE, soft-CE distillation (OFA), ENS-KD teacher
labels for early-exit teachers (OFAv2, spec §2.6) and the AEP weighted multi-exit loss (§2.2)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from natv2.nn.multi_exit import normalise_weights  # noqa: F401  (also imported from here)


def label_smoothed_ce(logits: Tensor, target: Tensor, smoothing: float = 0.1) -> Tensor:
    """Mean CE against (1-s)·onehot + s/K (OFA's `cross_entropy_with_label_smoothing`)."""
    return F.cross_entropy(logits.float(), target, label_smoothing=smoothing)


def soft_ce(logits: Tensor, soft_target: Tensor) -> Tensor:
    """Mean over the batch of -Σ p·log q: OFA's KD term (temperature 1, `kd_type="ce"`)."""
    return torch.mean(torch.sum(-soft_target * F.log_softmax(logits.float(), dim=1), dim=1))


def ensemble_logits(exit_logits: Sequence[Tensor], weights: Sequence[float]) -> Tensor:
    """Σ β_i · z_i over the exits (raw logits, AEP's prediction rule)."""
    beta = normalise_weights(weights, len(exit_logits))
    out = exit_logits[0].float() * beta[0]
    for b, z in zip(beta[1:], exit_logits[1:]):
        out = out + b * z.float()
    return out


def teacher_soft_labels(teacher_out: Tensor | Sequence[Tensor], ensemble_weights: Sequence[float]) -> Tensor:
    """softmax of the teacher's logits; for a multi-exit teacher, of the β-weighted exit sum (ENS-KD)."""
    if isinstance(teacher_out, Tensor):
        return F.softmax(teacher_out.float(), dim=1)
    return F.softmax(ensemble_logits(teacher_out, ensemble_weights), dim=1)


def aep_loss(exit_logits: Sequence[Tensor], target: Tensor, weights: Sequence[float], smoothing: float = 0.1) -> Tensor:
    """Σ α_i · CE_ls(z_i, y): trains all exits of the maximal early-exit network at once."""
    alpha = normalise_weights(weights, len(exit_logits))
    total = alpha[0] * label_smoothed_ce(exit_logits[0], target, smoothing)
    for a, z in zip(alpha[1:], exit_logits[1:]):
        total = total + a * label_smoothed_ce(z, target, smoothing)
    return total


def distillation_loss(
    logits: Tensor,
    target: Tensor,
    soft_target: Tensor | None,
    *,
    smoothing: float = 0.1,
    kd_ratio: float = 1.0,
    normalise: bool = False,
) -> Tensor:
    """CE_ls(out, y) + kd_ratio · softCE(out, teacher); `normalise` rescales by 2/(kd+1) (NAT)."""
    loss = label_smoothed_ce(logits, target, smoothing)
    if soft_target is not None and kd_ratio > 0:
        loss = loss + kd_ratio * soft_ce(logits, soft_target)
        if normalise:
            loss = loss * (2.0 / (kd_ratio + 1.0))
    return loss
