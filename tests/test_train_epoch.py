"""`run_epoch` computes what a plain training loop computes (issue 23 pins it before and after splitting
it into steps): the same sampled subnets, losses, learning rates, gradient clipping and weights, bit for
bit, with and without a distillation teacher and with the all-exit (AEP) loss."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from natv2.supernets import create
from natv2.train.dist import DistContext
from natv2.train.optim import WarmupCosine, make_sgd, set_lr
from natv2.train.steps import EpochContext, LossSpec, SpaceSampler, run_epoch
from natv2.train.teacher import Teacher, extract_max_teacher

STEPS, FIRST_STEP, SEED_PARTS = 3, 5, (7, 1, 0)


def _batches(n: int = STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    return [(torch.randn(8, 3, 16, 16, generator=g), torch.randint(0, 5, (8,), generator=g)) for _ in range(n)]


def _setup(kind: str):
    torch.manual_seed(0)
    net = create("ofav2_ee_b", 5, r=[16])
    teacher = None
    loss = LossSpec(label_smoothing=0.1, kd_ratio=1.0)
    if kind == "teacher":
        teacher = Teacher(extract_max_teacher(copy.deepcopy(net), True), "train", (0.06, 0.13, 0.20, 0.27, 0.34))
    if kind == "all_exits":
        loss = LossSpec(label_smoothing=0.1, exit_loss_weights=(0.1, 0.2, 0.3, 0.2, 0.2), all_exits=(1, 2, 3, 4, 5))
    return net, teacher, loss


def _reference(net, teacher, loss, subnets: int, clip: float | None) -> tuple[list[float], dict]:
    """The loop run_epoch implements, written plainly."""
    opt = make_sgd(net, 0.0, 0.9, True, 1e-4, True)
    schedule = WarmupCosine(0.05, 2, 10, 0.0)
    sampler = SpaceSampler(net.space)
    losses = []
    net.train()
    torch.manual_seed(11)  # dropout
    for i, (x, y) in enumerate(_batches()):
        step = FIRST_STEP + i
        x = x.contiguous(memory_format=torch.channels_last)
        set_lr(opt, schedule(step))
        soft = teacher.soft_labels(x) if teacher is not None and loss.all_exits is None else None
        opt.zero_grad(set_to_none=True)
        total = torch.zeros(())
        for j in range(subnets):
            net.set_active_subnet(sampler.sample(np.random.default_rng([*SEED_PARTS, step, j])))
            out = net(x, exits=list(loss.all_exits)) if loss.all_exits is not None else net(x)
            value = loss(out, y, soft)
            value.backward()
            total += value.detach().float()
        losses.append((total / subnets).item())
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], clip)
        opt.step()
    return losses, net.state_dict()


@pytest.mark.parametrize("kind, subnets, clip", [("plain", 1, None), ("teacher", 2, 1.0), ("all_exits", 1, 0.5)])
def test_run_epoch_is_the_plain_loop(kind, subnets, clip):
    net, teacher, loss = _setup(kind)
    ref_losses, ref_state = _reference(copy.deepcopy(net), copy.deepcopy(teacher), loss, subnets, clip)
    seen: list[float] = []
    ec = EpochContext(supernet=net, optimizer=make_sgd(net, 0.0, 0.9, True, 1e-4, True),
                      schedule=WarmupCosine(0.05, 2, 10, 0.0), sampler=SpaceSampler(net.space), loss=loss,
                      subnets_per_step=subnets, dist=DistContext(), teacher=teacher, grad_clip=clip,
                      seed_parts=SEED_PARTS)
    torch.manual_seed(11)  # dropout, as in the reference
    mean = run_epoch(ec, iter(_batches()), STEPS, FIRST_STEP, on_step=lambda i, value, images: seen.append(value))
    assert seen == ref_losses and mean == pytest.approx(sum(ref_losses) / STEPS, rel=0, abs=1e-12)
    state = net.state_dict()
    assert all(torch.equal(state[k], ref_state[k]) for k in ref_state)


def test_a_short_loader_is_an_error_not_a_silent_short_epoch():
    net, teacher, loss = _setup("plain")
    ec = EpochContext(supernet=net, optimizer=make_sgd(net, 0.0, 0.9, True, 0.0, True),
                      schedule=WarmupCosine(0.05, 0, 10, 0.0), sampler=SpaceSampler(net.space), loss=loss,
                      subnets_per_step=1, dist=DistContext())
    with pytest.raises(RuntimeError, match="gave 1 batches; the epoch needs 2"):
        run_epoch(ec, iter(_batches(1)), 2, 0)
