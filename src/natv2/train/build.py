"""Build the supernet a training run starts from: scratch, an imported OFA checkpoint, or a natv2
supernet checkpoint; a different class count re-initialises the classifier(s), with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from natv2.errors import CheckpointError, ConfigError
from natv2.train.config import TrainConfig

OFA_SUFFIXES = (".pth", ".tar", ".pt")


def _space_overrides(cfg: TrainConfig) -> dict[str, Any]:
    return {k: v for k, v in dict(cfg.space).items() if v is not None}


def build_supernet(cfg: TrainConfig, n_classes: int, dropout: float | None = None) -> nn.Module:
    from natv2.supernets import create, from_ofa_state_dict

    dropout = cfg.dropout if dropout is None else dropout
    src = cfg.init_from
    if src is None:
        return create(cfg.supernet, n_classes, cfg.width_mult, dropout=dropout, **_space_overrides(cfg))
    path = Path(src)
    if path.suffix in OFA_SUFFIXES:
        if cfg.supernet != "ofa_mbv3":
            raise ConfigError(f"train.init_from is an OFA checkpoint but train.supernet is '{cfg.supernet}'",
                              "OFA checkpoints initialise ofa_mbv3 only; set train.supernet=ofa_mbv3")
        if not path.exists():
            raise CheckpointError(f"OFA checkpoint {path} does not exist", "check train.init_from")
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for unsafe or damaged files
            raise CheckpointError(f"cannot read OFA checkpoint {path} with weights_only=True: {exc}",
                                  "pass the plain state-dict checkpoint of the `ofa` package") from exc
        net = from_ofa_state_dict(sd, n_classes, cfg.width_mult, **_space_overrides(cfg))
        _set_dropout_rate(net, dropout)
        return net
    net = create(cfg.supernet, n_classes, cfg.width_mult, dropout=dropout, **_space_overrides(cfg))
    load_natv2_weights(net, path)
    return net


def _set_dropout_rate(net: nn.Module, p: float) -> None:
    for m in net.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.p = p


def load_natv2_weights(net: nn.Module, path: Path) -> None:
    """Load a natv2 supernet checkpoint (.safetensors, or the stem of save_supernet's pair)."""
    from safetensors.torch import load_file

    weights = path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")
    if not weights.exists():
        raise CheckpointError(f"supernet checkpoint {weights} does not exist", "check train.init_from")
    try:
        sd = load_file(str(weights))
    except Exception as exc:
        raise CheckpointError(f"cannot read {weights}: {exc}", "pass a .safetensors file written by natv2") from exc
    own = net.state_dict()
    reinit = [k for k in sd if k in own and ".classifier." in k and sd[k].shape != own[k].shape]
    if reinit:
        warnings.warn(f"{weights} has classifiers for another class count: {sorted({k.rsplit('.', 1)[0] for k in reinit})} "
                      "are re-initialised (train them before use)", stacklevel=2)
        for k in reinit:
            sd[k] = own[k]
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad = [k for k in sd if k in own and sd[k].shape != own[k].shape]
    if missing or unexpected or bad:
        raise CheckpointError(
            f"{weights} does not fit supernet '{getattr(net, 'name', '?')}': "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shapes {bad[:3]}",
            "use a checkpoint of the same supernet, width multiplier and search space (largest ks/e/d)",
        )
    net.load_state_dict(sd)
