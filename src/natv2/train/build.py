"""Build the supernet a training run starts from: a registered supernet from scratch, or the target's
supernet of a transfer (`train.source`: the source's weights, new heads for the data's classes)."""

from __future__ import annotations

from typing import Any, Sequence

from torch import nn

from natv2.train.config import TrainConfig


def _space_overrides(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in dict(cfg.space).items() if v is not None}


def build_supernet(cfg: TrainConfig, n_classes: int, dropout: float | None = None, image_size: int | None = None,
                   class_names: Sequence[str] | None = None, source: Any = None) -> nn.Module:
    """`cfg.supernet` with random weights, or with `cfg.source`: the source's supernet at the target's
    resolutions (natv2.supernets.source's rule, from the data's `image_size`) with new heads unless the
    target has the source's classes. Seed torch first: the random weights (all of them, or the new
    heads) come from its generator. `source`: the already resolved `Source` of `cfg.source`, if any."""
    from natv2.supernets import create

    dropout = cfg.dropout if dropout is None else dropout
    if not cfg.source:
        return create(cfg.supernet, n_classes, cfg.width_mult, dropout=dropout, **_space_overrides(cfg))
    source = source if source is not None else resolve_checked_source(cfg)
    space = source.target_space(_space_overrides(cfg), image_size or max(source.resolutions))
    return source.build(n_classes, space, dropout=dropout, class_names=class_names)


def resolve_checked_source(cfg: TrainConfig) -> Any:
    """The `Source` of `train.source`, checked against the section's family, width and space."""
    from natv2.supernets.source import resolve_source

    source = resolve_source(str(cfg.source))
    source.check(cfg.supernet, cfg.width_mult, _space_overrides(cfg))
    return source
