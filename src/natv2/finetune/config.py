"""The `finetune` section of a natv2 config: which subnets to post-process, and how (spec §4.7).

A frozen dataclass with no torch import, so the config layer can load, validate and print it
cheaply. Defaults are the thesis' best post-processing settings (§4.7): batch 64, plain CE,
cosine to 1e-8 stepped per batch over 150 epochs, patience 30, SGD (momentum 0.9, wd 5e-4,
lr 1e-4) for subnets of single-exit supernets and AdamW (lr 1e-4) for early-exit ones; the
multi-exit (AEP) variant uses AdamW, lr 1e-4 and UNIF exit weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from natv2.config.convert import FieldError
from natv2.config.fields import key_help

VARIANTS = ("single", "multi_exit")



@dataclass(frozen=True)
class FinetuneConfig:
    """Two-step post-processing of chosen subnets (see natv2.finetune.protocol)."""

    select: Literal["front", "picks", "named", "all"] = field(default="front", metadata=key_help(
        "which subnets of the search output: the non-dominated front, the high-trade-off picks, "
        "named ones (finetune.names) or all of the archive"))
    names: tuple[str, ...] = field(default=(), metadata=key_help(
        "for select=named: file stems, digests (or unique prefixes) or archive indices"))
    archive: str | None = field(default=None, metadata=key_help(
        "a search archive/front JSON to read instead of the run directory's final one"))
    supernet: str | None = field(default=None, metadata=key_help(
        "supernet checkpoint (stem, .safetensors or .json of natv2.supernets.save_supernet) to extract "
        "from; null: the run directory's latest (the search's adapted supernet, else the trained one)"))
    max_subnets: int | None = field(default=None, metadata=key_help(
        "keep at most this many chosen subnets (most accurate first); null keeps all"))
    variants: tuple[Literal["single", "multi_exit"], ...] = field(default=("single",), metadata=key_help(
        "single: the subnet as searched; multi_exit: early-exit subnets with exits 1..nd trained "
        "jointly (AEP), whose params and MACs grow"))
    max_epochs: int = field(default=150, metadata=key_help("step-1 epoch limit"))
    patience: int = field(default=30, metadata=key_help(
        "step 1 stops when the validation loss has not improved for this many epochs"))
    min_delta: float = field(default=0.0, metadata=key_help("smallest validation-loss decrease that counts"))
    batch_size: int = field(default=64, metadata=key_help("fine-tuning batch size"))
    optimizer: Literal["auto", "sgd", "adamw"] = field(default="auto", metadata=key_help(
        "auto: SGD for subnets of single-exit supernets, AdamW for early-exit ones (thesis' best)"))
    lr: float = field(default=1e-4, metadata=key_help("learning rate of the single-exit variant"))
    momentum: float = field(default=0.9, metadata=key_help("SGD momentum"))
    weight_decay_sgd: float = field(default=5e-4, metadata=key_help("weight decay when the optimiser is SGD"))
    weight_decay_adamw: float = field(default=1e-2, metadata=key_help("weight decay when it is AdamW (torch's default)"))
    no_decay_bn_bias: bool = field(default=True, metadata=key_help("no weight decay on BN parameters and biases"))
    eta_min: float = field(default=1e-8, metadata=key_help("floor of the per-batch cosine schedule"))
    cosine_epochs: int | None = field(default=None, metadata=key_help(
        "cosine period in epochs (null: max_epochs); step 2 reuses step 1's schedule"))
    label_smoothing: float = field(default=0.0, metadata=key_help("CE label smoothing (0 in the thesis)"))
    dropout: float = field(default=0.0, metadata=key_help("dropout of the extracted subnet while fine-tuning"))
    multi_exit_optimizer: Literal["sgd", "adamw"] = field(default="adamw", metadata=key_help(
        "optimiser of the multi-exit (AEP) variant"))
    multi_exit_lr: float = field(default=1e-4, metadata=key_help("learning rate of the multi-exit variant"))
    exit_ordering: Literal["ASC", "DESC", "MIX", "UNIF"] = field(default="UNIF", metadata=key_help(
        "AEP loss weights alpha / output weights beta from w_i = round(i/(n(n+1)/2), 4): ASC, DESC, "
        "MIX (alpha descending, beta ascending) or UNIF (1/n each, the thesis' best)"))
    evaluate_before: bool = field(default=True, metadata=key_help(
        "also measure the inherited subnet (BN recalibrated), on validation and, after training, on test"))
    channels_last: bool = field(default=True, metadata=key_help("NHWC memory layout (faster on CPU)"))

    def __post_init__(self) -> None:
        if self.select == "named" and not self.names:
            raise FieldError("names", list(self.names), "a non-empty list when select is 'named'",
                             "list subnet file stems, digests or archive indices in finetune.names")
        if not self.variants or len(set(self.variants)) != len(self.variants):
            raise FieldError("variants", list(self.variants), f"a non-empty list of distinct values from {list(VARIANTS)}")
        for name in ("max_epochs", "patience", "batch_size"):
            if getattr(self, name) < 1:
                raise FieldError(name, getattr(self, name), "an integer >= 1")
        if self.max_subnets is not None and self.max_subnets < 1:
            raise FieldError("max_subnets", self.max_subnets, "null or an integer >= 1")
        if self.cosine_epochs is not None and self.cosine_epochs < 1:
            raise FieldError("cosine_epochs", self.cosine_epochs, "null (= max_epochs) or an integer >= 1")
        for name in ("lr", "multi_exit_lr"):
            if not getattr(self, name) > 0:
                raise FieldError(name, getattr(self, name), "a number > 0")
        if not 0 <= self.eta_min < min(self.lr, self.multi_exit_lr):
            raise FieldError("eta_min", self.eta_min, "a number in [0, lr)")
        for name in ("min_delta", "weight_decay_sgd", "weight_decay_adamw", "momentum"):
            if getattr(self, name) < 0:
                raise FieldError(name, getattr(self, name), "a number >= 0")
        for name in ("label_smoothing", "dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise FieldError(name, getattr(self, name), "a number in [0, 1)")

    @property
    def cosine_period(self) -> int:
        return self.cosine_epochs or self.max_epochs

    def optimizer_for(self, variant: str, early_exit_supernet: bool) -> tuple[str, float]:
        """(optimiser name, lr) for a variant: §4.7's best settings unless the user chose."""
        if variant == "multi_exit":
            return self.multi_exit_optimizer, self.multi_exit_lr
        if self.optimizer != "auto":
            return self.optimizer, self.lr
        return ("adamw" if early_exit_supernet else "sgd"), self.lr
