"""Teachers for in-place distillation (spec §1.5, §2.6) and how each phase obtains one.

A teacher is a static network extracted from the supernet at its maximal configuration (all exits
for early-exit supernets, whose soft labels are then the ENS-KD ensemble). Policies:
    none         no distillation;
    fixed        the maximal net after the `full` phase, for every phase (OFA);
    progressive  the maximal net of the previous phase's best checkpoint, BN recalibrated (OFAv2 "pet").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from natv2.train.losses import teacher_soft_labels


def set_batchnorm_training(module: nn.Module, training: bool) -> None:
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train(training)


@dataclass
class Teacher:
    """A frozen network that turns a batch into soft labels."""

    net: nn.Module
    bn_mode: str = "train"  # "train": batch statistics (OFA's code), "eval": running statistics
    ensemble_weights: Sequence[float] = (1.0,)

    def __post_init__(self) -> None:
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def soft_labels(self, x: Tensor) -> Tensor:
        self.net.eval()  # dropout off in every mode
        if self.bn_mode == "train":
            set_batchnorm_training(self.net, True)
        out = self.net(x)
        if isinstance(out, (list, tuple)) and len(out) == 1:
            out = out[0]
        return teacher_soft_labels(out, self.ensemble_weights).detach()


def extract_max_teacher(supernet: nn.Module, has_exits: bool) -> nn.Module:
    """The static maximal network of `supernet` (all exits for early-exit supernets), as a copy."""
    supernet.set_max_net()
    if has_exits:
        n_exits = max(supernet.space.nd)
        net = supernet.extract_subnet(exits=list(range(1, n_exits + 1)))
    else:
        net = supernet.extract_subnet()
    return net


TeacherFactory = Callable[[], nn.Module]


class TeacherPolicy:
    """Decides, at the start of each phase, which weights the teacher comes from."""

    name = "base"

    def source_phase(self, phase_index: int, phase_names: Sequence[str], full_phase: str | None) -> str | None:
        """Name of the phase whose best weights feed the teacher; None: the weights at phase start."""
        raise NotImplementedError

    recalibrate = False
    enabled = True


class NoTeacher(TeacherPolicy):
    name = "none"
    enabled = False

    def source_phase(self, phase_index, phase_names, full_phase):  # noqa: D401
        return None


class FixedTeacher(TeacherPolicy):
    name = "fixed"

    def source_phase(self, phase_index, phase_names, full_phase):
        return full_phase


class ProgressiveTeacher(TeacherPolicy):
    name = "progressive"
    recalibrate = True

    def source_phase(self, phase_index, phase_names, full_phase):
        return phase_names[phase_index - 1] if phase_index > 0 else None


TEACHER_POLICIES: dict[str, type[TeacherPolicy]] = {
    cls.name: cls for cls in (NoTeacher, FixedTeacher, ProgressiveTeacher)
}
