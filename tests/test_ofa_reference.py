"""Equivalence with the reference `ofa` package (test-only dependency, imported via the conftest fixture).

A random-weight OFAMobileNetV3 (n_classes 10) is loaded into natv2 with `from_ofa_state_dict`; both
must give the same logits (<= 1e-5) for the same subnets, and so must their extracted subnets.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

from conftest import randomize_bn
from natv2.errors import CheckpointError
from natv2.supernets import from_ofa_state_dict

TOL = 1e-5
RESOLUTIONS = (32, 64, 160, 224)


def _make_reference(ofa_cls, width_mult=1.0, seed=0):
    from ofa.utils import init_models

    torch.manual_seed(seed)
    ref = ofa_cls(n_classes=10, width_mult=width_mult, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    init_models(ref)
    randomize_bn(ref, seed)
    with torch.no_grad():  # non-identity kernel transforms, so the 7->5->3 chain is really exercised
        for name, p in ref.named_parameters():
            if name.endswith("_matrix"):
                p.add_(0.05 * torch.randn_like(p))
    return ref.eval()


@pytest.fixture(scope="module")
def pair(ofa_mbv3_cls):
    ref = _make_reference(ofa_mbv3_cls)
    net = from_ofa_state_dict(ref.state_dict(), n_classes=10, r=list(RESOLUTIONS)).eval()
    return ref, net


def _activate(ref, net, cfg):
    net.set_active_subnet(cfg)
    ref.set_active_subnet(ks=list(cfg.ks), e=list(cfg.e), d=list(cfg.d))


def _compare(ref, net, cfg, res, batch=2, train=False, extracted=True):
    """Max abs differences (supernets, extracted subnets) for one subnet at one resolution."""
    _activate(ref, net, cfg)
    ref.train(train), net.train(train)
    x = torch.randn(batch, 3, res, res)
    torch.manual_seed(0)
    a = ref(x)
    torch.manual_seed(0)
    b = net(x)
    d_super = (a - b).abs().max().item()
    d_sub = 0.0
    if extracted:
        sa = ref.get_active_subnet(preserve_weight=True).train(train)
        sb = net.extract_subnet()
        torch.manual_seed(0)
        c = sa(x)
        torch.manual_seed(0)
        d = sb(x)
        d_sub = max((c - d).abs().max().item(), (c - a).abs().max().item() if not train else 0.0)
    ref.eval(), net.eval()
    return d_super, d_sub


def _check_many(ref, net, n_subnets, resolutions, seed):
    rng = np.random.default_rng(seed)
    worst = 0.0
    for i in range(n_subnets):
        cfg = net.space.sample(rng)
        for res in resolutions:
            d_super, d_sub = _compare(ref, net, cfg.canonical(), res)
            assert d_super <= TOL and d_sub <= TOL, (i, res, cfg, d_super, d_sub)
            worst = max(worst, d_super, d_sub)
    return worst


def test_state_dict_translation_covers_every_tensor(pair):
    ref, net = pair
    assert len(ref.state_dict()) == len(net.state_dict())
    assert torch.equal(net.stages[4].blocks[3].depthwise.transform_5to3, ref.blocks[20].conv.depth_conv.conv.__getattr__("5to3_matrix"))


def test_logits_match_reference_few_subnets(pair):
    ref, net = pair
    _check_many(ref, net, n_subnets=3, resolutions=(32, 64), seed=1)


def test_train_mode_logits_match_reference(pair):
    ref, net = pair
    saved_ref, saved_net = copy.deepcopy(ref.state_dict()), copy.deepcopy(net.state_dict())
    try:
        rng = np.random.default_rng(2)
        for _ in range(2):
            cfg = net.space.sample(rng)
            d_super, d_sub = _compare(ref, net, cfg, 64, batch=4, train=True)
            assert d_super <= TOL and d_sub <= TOL
    finally:
        ref.load_state_dict(saved_ref), net.load_state_dict(saved_net)


@pytest.mark.slow
def test_logits_match_reference_50_subnets_4_resolutions(pair):
    """>= 50 random subnets, each at 32, 64, 160 and 224 px, supernet and extracted subnet."""
    ref, net = pair
    worst = _check_many(ref, net, n_subnets=50, resolutions=RESOLUTIONS, seed=3)
    assert worst <= TOL


@pytest.mark.slow
def test_train_mode_matches_reference_many(pair):
    ref, net = pair
    saved_ref, saved_net = copy.deepcopy(ref.state_dict()), copy.deepcopy(net.state_dict())
    try:
        rng = np.random.default_rng(4)
        for i in range(12):
            cfg = net.space.sample(rng)
            res = (64, 160)[i % 2]
            d_super, d_sub = _compare(ref, net, cfg, res, batch=4, train=True)
            assert d_super <= TOL and d_sub <= TOL, (i, res, d_super, d_sub)
    finally:
        ref.load_state_dict(saved_ref), net.load_state_dict(saved_net)


def test_width_12_matches_reference(ofa_mbv3_cls):
    ref = _make_reference(ofa_mbv3_cls, width_mult=1.2, seed=5)
    net = from_ofa_state_dict(ref.state_dict(), n_classes=10, width_mult=1.2, r=[32]).eval()
    assert net.arch.stage_widths == (32, 48, 96, 136, 192)
    _check_many(ref, net, n_subnets=2, resolutions=(32,), seed=5)


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_sort_channels_matches_reference(pair, stage):
    ref, net = (copy.deepcopy(m) for m in pair)
    ref.re_organize_middle_weights(expand_ratio_stage=stage)
    net.sort_channels(stage)
    rng = np.random.default_rng(10 + stage)
    for _ in range(2):
        d_super, _ = _compare(ref, net, net.space.sample(rng), 32, extracted=False)
        assert d_super <= TOL


def _respell(sd):
    """An older spelling of the same checkpoint: mobile_inverted_conv, single bn/conv/linear names, wrapped."""
    out = {}
    for k, v in sd.items():
        k = k.replace("blocks.", "module.blocks.", 1) if k.startswith("blocks.") else "module." + k
        k = k.replace(".conv.inverted_bottleneck", ".mobile_inverted_conv.inverted_bottleneck")
        k = k.replace(".conv.point_linear", ".mobile_inverted_conv.point_linear")
        k = k.replace(".bn.bn.", ".bn.").replace("classifier.linear.", "classifier.linear.linear.")
        out[k] = v
    return {"state_dict": out, "epoch": 3}


def test_other_key_spellings_load_the_same_weights(pair):
    ref, net = pair
    other = from_ofa_state_dict(_respell(ref.state_dict()), n_classes=10, r=list(RESOLUTIONS))
    mine = net.state_dict()
    for k, v in other.state_dict().items():
        assert torch.equal(v, mine[k]), k


def test_classifier_of_other_class_count_is_reinitialised_with_warning(pair):
    ref, net = pair
    with pytest.warns(UserWarning, match="classifier has 10 classes, this supernet 3"):
        other = from_ofa_state_dict(ref.state_dict(), n_classes=3, r=[32])
    assert other.exits["5"].classifier.weight.shape == (3, 1280)
    assert torch.equal(other.exits["5"].feature_mix.conv.weight, net.exits["5"].feature_mix.conv.weight)
    assert torch.equal(other.stages[2].blocks[1].expand.conv.weight, net.stages[2].blocks[1].expand.conv.weight)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_ofa_state_dict(ref.state_dict(), n_classes=10, r=[32])  # same class count: no warning


def test_mismatches_raise_checkpoint_error(pair):
    ref, _ = pair
    sd = dict(ref.state_dict())
    with pytest.raises(CheckpointError, match=r"first_conv.conv.weight' has shape \(16, 3, 3, 3\), the model expects \(24, 3, 3, 3\)"):
        from_ofa_state_dict(sd, n_classes=10, width_mult=1.2, r=[32])
    with pytest.raises(CheckpointError, match="missing .*transform_9to7"):
        from_ofa_state_dict(sd, n_classes=10, r=[32], ks=[3, 5, 7, 9])  # a 9x9 supernet has other shapes
    bad = dict(sd)
    bad["blocks.3.conv.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="blocks.3.conv.extra.weight"):
        from_ofa_state_dict(bad, n_classes=10, r=[32])
    missing = {k: v for k, v in sd.items() if "blocks.5.conv.point_linear.conv" not in k}
    with pytest.raises(CheckpointError, match="missing"):
        from_ofa_state_dict(missing, n_classes=10, r=[32])
