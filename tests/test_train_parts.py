"""Supernet training building blocks: recipes, losses, schedule, optimiser groups, checkpoint files,
validation grid. Fast (no training loop)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from natv2.config import ConfigError
from natv2.errors import CheckpointError
from natv2.space import SearchSpace, nw_keys_for_branch_counts
from natv2.train.checkpoint import CheckpointStore, optimizer_from_files, optimizer_to_files
from natv2.train.config import PhaseOverride, TrainConfig
from natv2.train.losses import aep_loss, distillation_loss, ensemble_logits, label_smoothed_ce, soft_ce, teacher_soft_labels
from natv2.train.optim import WarmupCosine, make_sgd, param_groups
from natv2.train.recipes import build_phases
from natv2.train.validate import capped_batches, validation_grid

torch.set_num_threads(1)

EE = SearchSpace(r=(24, 32), nd=(1, 2, 3, 4, 5))


# ---------------------------------------------------------------- recipes
def test_eps_recipe_for_early_exit_supernet_follows_spec_table():
    phases = build_phases(EE, "eps")
    assert [p.name for p in phases] == ["full", "kernel", "exit_1", "exit_2", "exit_3", "exit_4",
                                        "depth_1", "depth_2", "expand_1", "expand_2"]
    by = {p.name: p for p in phases}
    full = by["full"]
    assert (full.space.ks, full.space.e, full.space.d, full.space.nd) == ((7,), (6,), (4,), (5,))
    assert full.kind == "full" and full.epochs == 180 and full.base_lr == 0.08 and full.dropout == 0.2
    assert by["kernel"].space.ks == (3, 5, 7) and by["kernel"].warmup_epochs == 5 and by["kernel"].epochs == 120
    assert by["exit_1"].space.nd == (4, 5) and by["exit_1"].base_lr == 1.875e-3 and by["exit_1"].subnets_per_step == 2
    assert by["exit_4"].space.nd == (1, 2, 3, 4, 5) and by["exit_4"].base_lr == 1.5e-2
    assert by["depth_1"].space.d == (3, 4) and by["depth_1"].space.e == (6,)
    assert by["depth_2"].space.d == (2, 3, 4)
    assert by["expand_1"].space.e == (4, 6) and by["expand_1"].sort_channels == 0 and by["expand_1"].subnets_per_step == 4
    assert by["expand_2"].space.e == (3, 4, 6) and by["expand_2"].sort_channels == 1
    assert all(p.space.r == (24, 32) for p in phases)  # resolution is elastic throughout
    assert [p.index for p in phases] == list(range(len(phases)))


def test_ps_recipe_for_ofa_and_level_phases_for_parallel_supernets():
    ps = build_phases(SearchSpace(r=(32,)), "ps")
    assert [p.name for p in ps] == ["full", "kernel", "depth_1", "depth_2", "expand_1", "expand_2"]
    assert ps[0].dropout == 0.1  # OFA keeps its default dropout in the full phase
    par = build_phases(SearchSpace(r=(32,), nw=nw_keys_for_branch_counts([1, 2, 3])), "eps")
    names = [p.name for p in par]
    assert "level_1" in names and "exit_1" not in names
    lv1 = par[names.index("level_1")]
    assert lv1.space.nw == nw_keys_for_branch_counts([2, 3])
    assert par[names.index("kernel")].space.nw == (7,)  # before its phase, nw sits at all branches


def test_recipe_scaling_overrides_and_restricted_dimensions():
    phases = build_phases(EE, "eps", epochs_scale=0.05, overrides={"kernel": PhaseOverride(epochs=3, base_lr=0.5)})
    by = {p.name: p for p in phases}
    assert by["full"].epochs == 9 and by["exit_1"].epochs == 1 and by["expand_2"].warmup_epochs == 0
    assert by["kernel"].epochs == 3 and by["kernel"].base_lr == 0.5
    # a dimension restricted to two values: the short sub-phase is dropped, the full one kept
    names = [p.name for p in build_phases(SearchSpace(d=(3, 4)), "ps")]
    assert "depth_1" not in names and "depth_2" in names
    # a fixed dimension has no phase at all
    assert "kernel" not in [p.name for p in build_phases(SearchSpace(ks=(3,)), "ps")]
    only = build_phases(EE, "eps", only=["depth_2"])
    assert [p.name for p in only] == ["depth_2"] and only[0].space.nd == (1, 2, 3, 4, 5) and only[0].index == 0
    with pytest.raises(ConfigError, match="does not have"):
        build_phases(EE, "eps", overrides={"kernal": {"epochs": 1}})
    # a preset's override for a phase of another recipe (exit_* with OFA's PS) does not apply, and is no error
    ps = {p.name: p for p in build_phases(SearchSpace(), "ps", overrides={"exit_1": {"epochs": 9}, "kernel": {"epochs": 2}})}
    assert "exit_1" not in ps and ps["kernel"].epochs == 2
    with pytest.raises(ConfigError, match="unknown training recipe"):
        build_phases(EE, "nope")


def test_train_config_defaults_and_validation():
    cfg = TrainConfig()
    assert cfg.resolved_recipe() == "eps" and cfg.resolved_teacher() == "progressive"
    ofa = TrainConfig(supernet="ofa_mbv3")
    assert ofa.resolved_recipe() == "ps" and ofa.resolved_teacher() == "fixed"
    assert cfg.exit_loss_weights == (0.06, 0.13, 0.20, 0.27, 0.34) and cfg.weight_decay == 3e-5
    with pytest.raises(ConfigError, match="epochs_scale"):
        TrainConfig(epochs_scale=0)
    with pytest.raises(ConfigError, match="exit_loss_weights"):
        TrainConfig(exit_loss_weights=(0.0, 0.0))


# ---------------------------------------------------------------- losses
def test_label_smoothed_ce_matches_its_definition():
    torch.manual_seed(0)
    z, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    s = 0.1
    target = torch.full((6, 5), s / 5) + (1 - s) * F.one_hot(y, 5)
    manual = torch.mean(torch.sum(-target * F.log_softmax(z, 1), 1))
    assert torch.allclose(label_smoothed_ce(z, y, s), manual, atol=1e-6)
    assert torch.allclose(soft_ce(z, target), manual, atol=1e-6)


def test_ens_kd_teacher_label_is_softmax_of_weighted_exit_sum():
    torch.manual_seed(1)
    zs = [torch.randn(3, 4) for _ in range(5)]
    beta = [0.06, 0.13, 0.20, 0.27, 0.34]
    expected = F.softmax(sum(b * z for b, z in zip(beta, zs)), 1)
    assert torch.allclose(teacher_soft_labels(zs, beta), expected, atol=1e-6)
    assert torch.allclose(teacher_soft_labels(zs[0], beta), F.softmax(zs[0], 1))
    # a teacher with fewer exits uses the deepest weights, renormalised
    two = ensemble_logits(zs[:2], beta)
    assert torch.allclose(two, (0.27 * zs[0] + 0.34 * zs[1]) / 0.61, atol=1e-6)


def test_aep_and_distillation_losses_weight_their_terms():
    torch.manual_seed(2)
    zs, y = [torch.randn(4, 3) for _ in range(2)], torch.tensor([0, 1, 2, 0])
    got = aep_loss(zs, y, [1.0, 3.0], smoothing=0.0)
    assert torch.allclose(got, 0.25 * F.cross_entropy(zs[0], y) + 0.75 * F.cross_entropy(zs[1], y), atol=1e-6)
    soft = F.softmax(torch.randn(4, 3), 1)
    kd = distillation_loss(zs[0], y, soft, smoothing=0.0, kd_ratio=0.5)
    assert torch.allclose(kd, F.cross_entropy(zs[0], y) + 0.5 * soft_ce(zs[0], soft), atol=1e-6)
    nat = distillation_loss(zs[0], y, soft, smoothing=0.0, kd_ratio=1.0, normalise=True)
    assert torch.allclose(nat, F.cross_entropy(zs[0], y) + soft_ce(zs[0], soft), atol=1e-6)  # 2/(1+1) = 1
    assert torch.allclose(distillation_loss(zs[0], y, None, smoothing=0.0), F.cross_entropy(zs[0], y))
    # NAT's normalisation at another ratio: (CE + 3 KD) * 2 / (3 + 1)
    nat3 = distillation_loss(zs[0], y, soft, smoothing=0.0, kd_ratio=3.0, normalise=True)
    assert torch.allclose(nat3, (F.cross_entropy(zs[0], y) + 3.0 * soft_ce(zs[0], soft)) * 0.5, atol=1e-6)
    # kd_ratio 0 switches distillation (and its normalisation) off
    off = distillation_loss(zs[0], y, soft, smoothing=0.0, kd_ratio=0.0, normalise=True)
    assert torch.allclose(off, F.cross_entropy(zs[0], y), atol=1e-6)


def test_loss_defaults_are_ofas_label_smoothing_and_kd_ratio():
    """Label smoothing 0.1 and KD ratio 1 (OFA's training recipe) when a caller gives none."""
    torch.manual_seed(3)
    zs, y = [torch.randn(4, 3) for _ in range(2)], torch.tensor([0, 1, 2, 0])
    soft = F.softmax(torch.randn(4, 3), 1)
    ce01 = F.cross_entropy(zs[0], y, label_smoothing=0.1)
    assert torch.allclose(label_smoothed_ce(zs[0], y), ce01, atol=1e-6)
    assert torch.allclose(distillation_loss(zs[0], y, soft), ce01 + soft_ce(zs[0], soft), atol=1e-6)
    expected_aep = 0.5 * ce01 + 0.5 * F.cross_entropy(zs[1], y, label_smoothing=0.1)
    assert torch.allclose(aep_loss(zs, y, [1.0, 1.0]), expected_aep, atol=1e-6)


# ---------------------------------------------------------------- optimiser and schedule
def test_warmup_then_cosine_per_step():
    sch = WarmupCosine(peak_lr=1.0, warmup_steps=4, cosine_steps=10, start_factor=0.0)
    assert [sch(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert sch(4) == 1.0 and math.isclose(sch(9), 0.5) and math.isclose(sch(14), 0.0, abs_tol=1e-12)
    assert all(sch(i) >= sch(i + 1) for i in range(4, 14))


def test_no_weight_decay_on_bn_and_bias():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))
    net(torch.zeros(1, 3, 5, 5))
    groups = param_groups(net, 3e-5)
    decay = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 3e-5 and groups[1]["weight_decay"] == 0.0
    assert decay == {id(net[0].weight), id(net[3].weight)}
    assert {id(p) for p in groups[1]["params"]} == {id(net[1].weight), id(net[1].bias), id(net[3].bias)}
    opt = make_sgd(net, 0.1, 0.9, True, 3e-5, True)
    assert opt.defaults["nesterov"] and opt.defaults["momentum"] == 0.9


def test_optimizer_state_round_trips_through_safetensors_and_json(tmp_path):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    opt = make_sgd(net, 0.1, 0.9, True, 3e-5, True)
    for _ in range(2):
        opt.zero_grad()
        net(torch.randn(5, 4)).sum().backward()
        opt.step()
    class Note:  # what an owner checkpoints (TrainState, AdaptState): anything with to_dict
        def __init__(self, note: int) -> None:
            self.note = note

        def to_dict(self) -> dict:
            return {"note": self.note}

    store = CheckpointStore(tmp_path)
    store.save("a", net, opt, Note(1))
    assert store.read_state()["note"] == 1 and store.files().model_file == "model-a.safetensors"
    net2 = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    store.load_model(net2)
    opt2 = make_sgd(net2, 0.1, 0.9, True, 3e-5, True)
    store.load_optimizer(opt2)
    for a, b in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net2.state_dict().values()))
    # a second checkpoint replaces the first one's files
    store.save("b", net, opt, Note(2))
    assert sorted(p.name for p in tmp_path.glob("*.safetensors")) == ["model-b.safetensors", "optim-b.safetensors"]
    tensors, meta = optimizer_to_files(opt)
    assert all(isinstance(v, torch.Tensor) for v in tensors.values()) and "param_groups" in meta


# ---------------------------------------------------------------- validation grid
def test_validation_grid_is_fixed_distinct_and_covers_extremes():
    space = EE.restrict(ks=(3, 5, 7), d=(3, 4))
    a = validation_grid(space, n_random=2, per_dim=True, resolutions="minmax", seed=5)
    b = validation_grid(space, n_random=2, per_dim=True, resolutions="minmax", seed=5)
    assert [(e.label, e.config) for e in a] == [(e.label, e.config) for e in b]
    labels = [e.label for e in a]
    assert {"max@24", "max@32", "min@24", "min@32", "min_ks@32", "min_d@32", "min_nd@32"} <= set(labels)
    assert len({e.config for e in a}) == len(a)
    by = {e.label: e.config for e in a}
    assert by["max@32"] == space.max_config() and by["min@24"].r == 24
    assert by["min_ks@32"].ks[0] == 3 and by["min_ks@32"].d == (4,) * 5
    only_max = validation_grid(space.restrict(ks=(7,), e=(6,), d=(4,), nd=(5,)), n_random=0, per_dim=True, resolutions="max", seed=0)
    assert [e.label for e in only_max] == ["max@32"]


def test_capped_validation_keeps_every_class_of_a_class_sorted_split_and_the_same_images():
    """val_max_batches once read the first batches: on a class-sorted split, the first classes only."""
    labels = torch.arange(4).repeat_interleave(50)  # 200 images, class-sorted, 4 classes
    batches = [(labels[i : i + 25].float().reshape(-1, 1), labels[i : i + 25]) for i in range(0, 200, 25)]
    rows: dict = {}
    picked = torch.cat([y for _, y in capped_batches(batches, 2, rows)])
    assert len(picked) == 50 and torch.bincount(picked).tolist() == [13, 13, 12, 12]
    again = torch.cat([x.reshape(-1) for x, _ in capped_batches(batches, 2, rows)])
    assert torch.equal(again, picked.float())  # cached rows: the same images every call
    assert capped_batches(batches, None, rows) is batches
    assert torch.equal(torch.cat([y for _, y in capped_batches(batches, 8, {})]), labels)  # the cap holds them all


def test_a_source_gives_new_heads_for_a_new_class_count_and_keeps_the_body(tmp_path):
    from natv2.supernets import create, save_supernet
    from natv2.train.build import build_supernet

    torch.manual_seed(0)
    src = create("ofav2_ee_b", 4, r=[16])
    save_supernet(src, tmp_path / "sn")
    cfg = TrainConfig(supernet="ofav2_ee_b", space={"r": [16]}, source=str(tmp_path / "sn.safetensors"))
    net = build_supernet(cfg, n_classes=7)
    assert net.exits["5"].classifier.out_features == 7 and net.n_classes == 7
    a, b = src.state_dict(), net.state_dict()
    same = [k for k in a if ".classifier." not in k]
    assert all(torch.equal(a[k], b[k]) for k in same)
    with pytest.raises(CheckpointError, match="does not exist"):
        build_supernet(TrainConfig(supernet="ofav2_ee_b", source=str(tmp_path / "x.pth")), n_classes=7)