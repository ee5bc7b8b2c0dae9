"""Fresh copies of a chosen subnet with inherited supernet weights, for each post-processing variant.

`single`: the subnet as searched (one exit: exit nd, or the last one).
`multi_exit`: the same body with exits 1..nd reconnected (weights from the supernet's exit heads),
wrapped in a `MultiExitEnsemble` whose output is sum_i beta_i * logits_i.
"""

from __future__ import annotations

from typing import Callable, Protocol

from torch import nn

from natv2.errors import ConfigError
from natv2.nn.dropout import set_dropout
from natv2.nn.multi_exit import MultiExitEnsemble
from natv2.finetune.weights import exit_weights
from natv2.space import SubnetConfig


class ExtractingSupernet(Protocol):
    name: str
    n_classes: int

    def set_active_subnet(self, cfg: SubnetConfig) -> SubnetConfig: ...

    def extract_subnet(self, exits: list[int] | None = None) -> nn.Module: ...


def multi_exit_ok(cfg: SubnetConfig) -> bool:
    """The AEP variant needs an early-exit subnet with at least two exits to combine."""
    return cfg.nd is not None and cfg.nd >= 2


def builder(supernet: ExtractingSupernet, cfg: SubnetConfig, variant: str, ordering: str = "UNIF",
            dropout: float = 0.0) -> Callable[[], nn.Module]:
    """A function returning a fresh extracted copy each call (step 1 and step 2 both start here)."""
    if variant == "multi_exit":
        if not multi_exit_ok(cfg):
            raise ConfigError(f"subnet {cfg.file_stem()} has no early exits to combine (nd={cfg.nd})",
                              "use the multi_exit variant only with early-exit supernets (ofav2_ee_*)")
        exits = list(range(1, cfg.nd + 1))
        _, beta = exit_weights(len(exits), ordering)

        def build() -> nn.Module:
            supernet.set_active_subnet(cfg)
            return MultiExitEnsemble(set_dropout(supernet.extract_subnet(exits=exits), dropout), beta, exits)

        return build
    if variant != "single":
        raise ConfigError(f"unknown fine-tuning variant {variant!r}", "use single or multi_exit")

    def build_single() -> nn.Module:
        supernet.set_active_subnet(cfg)
        return set_dropout(supernet.extract_subnet(), dropout)

    return build_single
