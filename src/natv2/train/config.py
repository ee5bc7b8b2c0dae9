"""The `train` section of a natv2 config: which supernet, which recipe, losses, optimiser, runtime.

A plain dataclass (no torch import) so the config layer can load, validate and print it cheaply.
Batch sizes and BN-calibration subsets live in the `data` section; seed, threads, device and
progress bars in the `run` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from natv2.config import FieldError
from natv2.config.fields import key_help

ASCENDING_EXIT_WEIGHTS = (0.06, 0.13, 0.20, 0.27, 0.34)
# Recipes that adapt a source supernet (train.source) instead of training one from scratch.
TRANSFER_RECIPES = ("warmup", "none")



@dataclass(frozen=True)
class PhaseOverride:
    """Exact values for one phase (`train.phase_overrides.<phase>.<key>`); null keeps the recipe's."""

    epochs: int | None = None
    warmup_epochs: int | None = None
    base_lr: float | None = None
    subnets_per_step: int | None = None
    steps_per_epoch: int | None = None  # cap on this phase's steps per epoch (train.steps_per_epoch caps every phase)

    def __post_init__(self) -> None:
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise FieldError("steps_per_epoch", self.steps_per_epoch, "an integer >= 1, or null")
        for name in ("epochs", "warmup_epochs"):
            v = getattr(self, name)
            if v is not None and v < 0:
                raise FieldError(name, v, "an integer >= 0 (0 epochs and 0 warm-up drops the phase)")
        if self.base_lr is not None and self.base_lr <= 0:
            raise FieldError("base_lr", self.base_lr, "a float > 0")
        if self.subnets_per_step is not None and self.subnets_per_step < 1:
            raise FieldError("subnets_per_step", self.subnets_per_step, "an integer >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """Supernet training: the full network, then (extended) progressive shrinking (spec §1.5, §2.5)."""

    supernet: str = field(default="ofav2_ee_d", metadata=key_help("registered supernet (natv2.supernets)"))
    width_mult: float = field(default=1.0, metadata=key_help("width multiplier of the supernet"))
    space: dict[str, Any] = field(default_factory=dict, metadata=key_help(
        "search-space overrides for the supernet, e.g. {r: [24, 28, 32]}"))
    source: str | None = field(default=None, metadata=key_help(
        "null: train from scratch; else transfer from a source supernet (--source): a natv2 run directory, "
        "a natv2 supernet .safetensors, or an `ofa` package checkpoint (.pth)"))
    recipe: Literal["auto", "eps", "ps", "warmup", "none"] = field(default="auto", metadata=key_help(
        "phase table: eps (OFAv2 extended progressive shrinking), ps (OFA), warmup (NATv2's transfer warm-up: "
        "full network, then one distillation phase over the whole elastic space), none (NAT's: no warm-up, "
        "the search's adaptation alone); auto = warmup with a source, else eps for ofav2_*, ps for ofa_*"))
    epochs_scale: float = field(default=1.0, metadata=key_help(
        "multiplies every phase's epochs and warm-up (paper epochs at 1.0)"))
    phase_overrides: dict[str, PhaseOverride] = field(default_factory=dict, metadata=key_help(
        "per phase: {epochs, warmup_epochs, base_lr, subnets_per_step, steps_per_epoch}"))
    only_phases: tuple[str, ...] = field(default=(), metadata=key_help(
        "run just these phases (empty: all); their spaces keep what earlier phases opened"))
    steps_per_epoch: int | None = field(default=None, metadata=key_help(
        "cap on optimiser steps per epoch; null: the whole training split"))
    lr_scaling: Literal["linear", "none"] = field(default="linear", metadata=key_help(
        "linear: lr = base_lr * global batch / lr_reference_batch (OFA's per-GPU rule)"))
    lr_reference_batch: int = field(default=64, metadata=key_help("batch size the recipe's base_lr refers to"))
    warmup_start_factor: float = field(default=0.0, metadata=key_help("warm-up starts at this fraction of the lr"))
    label_smoothing: float = field(default=0.1, metadata=key_help("label smoothing of the CE loss"))
    kd_ratio: float = field(default=1.0, metadata=key_help("weight of the soft-CE distillation term (0: no KD)"))
    kd_normalise: bool = field(default=False, metadata=key_help(
        "scale (CE + kd*KD) by 2/(kd+1), as NAT's adaptation step does"))
    teacher: Literal["auto", "fixed", "progressive", "none"] = field(default="auto", metadata=key_help(
        "auto: progressive (OFAv2 'pet') for ofav2_*, fixed full net for ofa_*"))
    teacher_bn: Literal["train", "eval"] = field(default="train", metadata=key_help(
        "teacher BN: train = batch statistics (OFA's code), eval = running statistics"))
    exit_loss_weights: tuple[float, ...] = field(default=ASCENDING_EXIT_WEIGHTS, metadata=key_help(
        "AEP alpha per exit (exit 1 first) for the all-exit maximal network"))
    exit_ensemble_weights: tuple[float, ...] = field(default=ASCENDING_EXIT_WEIGHTS, metadata=key_help(
        "beta per exit (exit 1 first): the ENS-KD teacher label is softmax(sum beta_i z_i)"))
    dropout: float = field(default=0.1, metadata=key_help("classifier dropout (the recipe sets 0.2 for EPS 'full')"))
    momentum: float = field(default=0.9, metadata=key_help("SGD momentum"))
    nesterov: bool = field(default=True, metadata=key_help("Nesterov momentum"))
    weight_decay: float = field(default=3e-5, metadata=key_help("weight decay"))
    no_decay_bn_bias: bool = field(default=True, metadata=key_help("no weight decay on BN parameters and biases"))
    grad_clip: float | None = field(default=None, metadata=key_help("max global gradient norm; null: no clipping"))
    val_random: int = field(default=2, metadata=key_help("seeded random subnets in the validation grid"))
    val_per_dim: bool = field(default=True, metadata=key_help(
        "validation grid also holds the max net with each open dimension at its minimum"))
    val_resolutions: Literal["minmax", "max", "all"] = field(default="minmax", metadata=key_help(
        "resolutions of the validation grid"))
    val_max_batches: int | None = field(default=None, metadata=key_help(
        "validate each subnet on a class-stratified subset of as many images as this many evaluation batches "
        "hold (the same images every epoch); null: the whole validation split"))
    phase_eval_split: Literal["none", "val", "test"] = field(default="none", metadata=key_help(
        "at the end of each phase, evaluate min, max and phase_eval_random subnets on this split"))
    phase_eval_random: int = field(default=10, metadata=key_help("random subnets of the end-of-phase evaluation"))
    phase_eval_max_batches: int | None = field(default=None, metadata=key_help(
        "end-of-phase evaluation on a class-stratified subset of as many images as this many evaluation "
        "batches hold; null: the whole split"))
    channels_last: bool = field(default=False, metadata=key_help(
        "NHWC memory format; off by default: with elastic (sliced) weights it measured slower for training "
        "(bench/train.py: 0.07-0.32x on an H100, 0.55x on CPU)"))
    amp: Literal["auto", "bf16", "off"] = field(default="auto", metadata=key_help(
        "auto: bf16 autocast on CUDA, off on CPU"))
    checkpoint_every: int = field(default=1, metadata=key_help("epochs between checkpoints (last epoch always)"))
    keep_phase_checkpoints: bool = field(default=False, metadata=key_help(
        "keep every checkpoint: each phase's best weights and teacher (checkpoints/phases/) and, once training "
        "has finished, the last resume weights and optimiser state; false: remove each as soon as nothing will "
        "read it again (resume keeps working; the checkpoint state records a finished training)"))

    def __post_init__(self) -> None:
        if self.epochs_scale <= 0:
            raise FieldError("epochs_scale", self.epochs_scale, "a float > 0 (e.g. 0.05 for a short run)")
        if self.width_mult <= 0:
            raise FieldError("width_mult", self.width_mult, "a float > 0 (1.0 or 1.2)")
        for name in ("exit_loss_weights", "exit_ensemble_weights"):
            w = getattr(self, name)
            if not w or any(v < 0 for v in w) or sum(w) <= 0:
                raise FieldError(name, list(w), "non-negative weights, not all zero, exit 1 first")
        if self.kd_ratio < 0:
            raise FieldError("kd_ratio", self.kd_ratio, "a float >= 0")
        if not 0 <= self.label_smoothing < 1:
            raise FieldError("label_smoothing", self.label_smoothing, "a float in [0, 1)")
        if not 0 <= self.dropout < 1:
            raise FieldError("dropout", self.dropout, "a float in [0, 1)")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise FieldError("grad_clip", self.grad_clip, "a float > 0, or null")
        for name in ("steps_per_epoch", "val_max_batches"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise FieldError(name, v, "an integer >= 1, or null")
        if self.phase_eval_random < 0:
            raise FieldError("phase_eval_random", self.phase_eval_random, "an integer >= 0")
        if self.phase_eval_max_batches is not None and self.phase_eval_max_batches < 1:
            raise FieldError("phase_eval_max_batches", self.phase_eval_max_batches, "an integer >= 1, or null")
        if self.val_random < 0:
            raise FieldError("val_random", self.val_random, "an integer >= 0")
        if self.lr_reference_batch < 1:
            raise FieldError("lr_reference_batch", self.lr_reference_batch, "an integer >= 1")
        if not 0 <= self.warmup_start_factor <= 1:
            raise FieldError("warmup_start_factor", self.warmup_start_factor, "a float in [0, 1]")
        if self.checkpoint_every < 1:
            raise FieldError("checkpoint_every", self.checkpoint_every, "an integer >= 1")

    @property
    def is_ofa(self) -> bool:
        return self.supernet.startswith("ofa_")

    def resolved_recipe(self) -> str:
        if self.recipe != "auto":
            return self.recipe
        if self.source:
            return "warmup"
        return "ps" if self.is_ofa else "eps"

    def resolved_teacher(self) -> str:
        return self.teacher if self.teacher != "auto" else ("fixed" if self.is_ofa else "progressive")
