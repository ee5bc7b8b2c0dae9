"""The one way natv2 changes a network's dropout rate (training phases, transfer, fine-tuning)."""

from __future__ import annotations

from typing import TypeVar

from torch import nn

M = TypeVar("M", bound=nn.Module)


def set_dropout(model: M, p: float) -> M:
    """Set the rate of every dropout module, and of heads that record theirs (`dropout_rate`), so an
    extracted or saved copy carries the same rate. A head built without dropout (rate 0) keeps none.
    Returns `model`."""
    p = float(p)
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = p
        if isinstance(getattr(m, "dropout_rate", None), float):
            m.dropout_rate = p
    return model
