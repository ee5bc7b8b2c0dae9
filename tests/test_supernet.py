"""Elastic supernets: extraction equality, exits, dense skips, parallel masks, validation, sorting, BN, checkpoints."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch

from conftest import randomize_bn
from natv2.errors import CheckpointError, ConfigError, InvalidSubnetError
from natv2.nn import MBConv, ParallelBlock
from natv2.space import SearchSpace, SubnetConfig
from natv2.supernets import (
    Supernet,
    create,
    create_from_arch,
    list_supernets,
    load_subnet,
    load_supernet,
    load_supernet_weights,
    read_subnet_meta,
    recalibrate_bn,
    save_subnet,
    save_supernet,
)
from natv2.supernets.dynamic import DynamicMBConv

ALL = ["ofa_mbv3", "ofav2_se_b", "ofav2_se_d", "ofav2_se_p", "ofav2_se_dp", "ofav2_ee_b", "ofav2_ee_d", "ofav2_ee_p", "ofav2_ee_dp"]
RES = (32, 40)
TOL = 1e-5


_CACHE: dict[str, Supernet] = {}


def supernet(name: str) -> Supernet:
    """One supernet per variant for the whole module (building them is the slow part)."""
    if name not in _CACHE:
        torch.manual_seed(0)
        net = create(name, n_classes=7, r=list(RES))
        randomize_bn(net)
        _CACHE[name] = net
    return _CACHE[name]


def _fresh(name: str, **kw) -> Supernet:
    torch.manual_seed(0)
    net = create(name, n_classes=7, r=list(RES), **kw)
    randomize_bn(net)
    return net


def test_registry_lists_all_variants():
    assert sorted(ALL) == list_supernets()
    with pytest.raises(ConfigError, match="unknown supernet"):
        create("ofa_resnet", 10)


@pytest.mark.parametrize("name", ALL)
def test_extracted_subnet_equals_supernet(name):
    """Same logits (<= 1e-5) from supernet and extracted network: random subnets, 2 resolutions, train and eval."""
    net = supernet(name)
    rng = np.random.default_rng(ALL.index(name))
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    try:
        for res in RES:
            for train in (False, True):
                net.train(train)
                for _ in range(2):
                    cfg = net.sample_active_subnet(rng, net.space.restrict(r=[res]))
                    sub = net.extract_subnet()
                    assert sub.training == train
                    assert sub.config == net.subnet_spec(cfg)
                    x = torch.randn(4, 3, res, res)
                    torch.manual_seed(1)
                    y_super = net(x)
                    torch.manual_seed(1)
                    y_sub = sub(x)
                    assert y_super.shape == (4, 7)
                    assert (y_super - y_sub).abs().max().item() <= TOL, (name, res, train, cfg)
                    n_sub = sum(p.numel() for p in sub.parameters())
                    assert n_sub < sum(p.numel() for p in net.parameters())
    finally:
        net.load_state_dict(saved)
        net.eval()


def test_extracted_network_holds_only_active_weights():
    net = supernet("ofa_mbv3")
    cfg = net.set_min_net()
    sub = net.extract_subnet()
    assert [len(st.blocks) for st in sub.stages] == [2] * 5
    blk = sub.stages[1].blocks[1]
    assert isinstance(blk, MBConv) and blk.kernel_size == 3 and blk.mid_channels == 120  # 40 * 3
    assert blk.depthwise.conv.weight.shape == (120, 1, 3, 3)
    assert blk.se.reduce.weight.shape == (32, 120, 1, 1)  # make_divisible(120 // 4, 8)
    assert not any("transform_" in k for k in sub.state_dict())
    # extraction copies: changing the extracted weights leaves the supernet alone
    with torch.no_grad():
        blk.project.conv.weight.zero_()
    assert net.stages[1].blocks[1].project.conv.weight.abs().sum() > 0
    assert net.active_subnet == cfg


def test_widths_follow_spec_for_w12():
    net = create("ofav2_ee_b", 10, width_mult=1.2, r=[32])
    assert net.arch.stem_width == 24 and net.arch.stage_widths == (32, 48, 96, 136, 192)
    assert net.arch.exit_widths(5) == (1152, 1536)  # exit 5 equals OFA's head
    assert net.exits["1"].final_expand.conv.weight.shape[0] == 176  # make_divisible(6 * 24 * 1.2)
    assert net.space.w == (1.2,)
    with pytest.raises(ConfigError, match="width_mult"):
        create("ofa_mbv3", 10, width_mult=1.2, space=SearchSpace(r=(32,), w=(1.0,)))
    ofa = create("ofa_mbv3", 10, r=[32])
    assert tuple(ofa.exits) == ("5",) and ofa.exits["5"].final_expand.conv.weight.shape[:2] == (960, 160)


def test_early_exit_runs_only_stages_up_to_exit():
    net = supernet("ofav2_ee_b").eval()
    called: list[str] = []
    handles = [m.register_forward_hook(lambda m, i, o, n=f"stage{k}": called.append(n)) for k, m in enumerate(net.stages, 1)]
    handles += [m.register_forward_hook(lambda m, i, o, n=f"exit{k}": called.append(n)) for k, m in net.exits.items()]
    try:
        x = torch.randn(2, 3, 32, 32)
        for nd in range(1, 6):
            cfg = SubnetConfig(ks=(5,) * 20, e=(4,) * 20, d=(3,) * 5, r=32, nd=nd)
            net.set_active_subnet(cfg)
            called.clear()
            net(x)
            assert called == [f"stage{k}" for k in range(1, nd + 1)] + [f"exit{nd}"]
            sub = net.extract_subnet()
            assert len(sub.stages) == nd and list(sub.exits) == [str(nd)]
        # several exits in one pass, equal to the single-exit subnets
        net.set_active_subnet(SubnetConfig(ks=(5,) * 20, e=(4,) * 20, d=(3,) * 5, r=32, nd=2))
        called.clear()
        outs = net(x, exits=[4, 1])
        assert called == ["stage1", "exit1", "stage2", "stage3", "stage4", "exit4"]
        for k, out in zip([4, 1], outs):
            net.set_active_subnet(SubnetConfig(ks=(5,) * 20, e=(4,) * 20, d=(3,) * 5, r=32, nd=k))
            assert torch.allclose(net(x), out, atol=TOL)
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize("train", [False, True])
def test_all_exits_teacher_matches_supernet(train):
    net = supernet("ofav2_ee_dp").train(train)
    net.set_max_net()
    teacher = net.extract_subnet(exits=[1, 2, 3, 4, 5])
    x = torch.randn(4, 3, 40, 40)
    torch.manual_seed(0)
    a = net(x, exits=[1, 2, 3, 4, 5])
    torch.manual_seed(0)
    b = teacher(x)
    assert len(a) == len(b) == 5
    for u, v in zip(a, b):
        assert (u - v).abs().max().item() <= TOL
    assert teacher.config == net.subnet_spec(exits=[1, 2, 3, 4, 5])
    net.eval()


def test_dense_supernet_stage_sums_follow_spec():
    net = supernet("ofav2_se_d").eval()
    net.set_max_net()
    stage = net.stages[2]
    outs: list[torch.Tensor] = []
    ins: list[torch.Tensor] = []

    def record(module, inputs, output):
        ins.append(inputs[0])
        outs.append(output)

    handles = [b.register_forward_hook(record) for b in stage.blocks]
    stage_out: list[torch.Tensor] = []
    handles.append(stage.register_forward_hook(lambda m, i, o: stage_out.append(o)))
    try:
        net(torch.randn(2, 3, 32, 32))
        o1, o2, o3, o4 = outs
        assert torch.allclose(ins[1], o1) and torch.allclose(ins[2], o2)
        assert torch.allclose(ins[3], o3 + o1)
        assert torch.allclose(stage_out[0], o4 + o1 + o2)
        # the extra skips follow elastic depth: with d=3 the stage output is o3 + o1
        cfg = net.space.max_config()
        net.set_active_subnet({**cfg.to_dict(), "d": [3, 3, 3, 3, 3]})
        outs.clear(), ins.clear(), stage_out.clear()
        net(torch.randn(2, 3, 32, 32))
        assert len(outs) == 3 and torch.allclose(stage_out[0], outs[2] + outs[0])
    finally:
        for h in handles:
            h.remove()


def test_parallel_mask_key4_equals_plain_supernet():
    """nw = 4 (MBConv branch only) gives exactly the base (B) supernet with the same MBConv weights."""
    par = _fresh("ofav2_ee_p").eval()
    base = _fresh("ofav2_ee_b").eval()
    state = {k.replace("branches.mbconv.", ""): v for k, v in par.state_dict().items() if "conv1x1" not in k and "branches.transform" not in k}
    base.load_state_dict(state)
    rng = np.random.default_rng(5)
    x = torch.randn(2, 3, 40, 40)
    for _ in range(3):
        cfg = base.sample_active_subnet(rng, base.space.restrict(r=[40]))
        par.set_active_subnet(SubnetConfig(cfg.ks, cfg.e, cfg.d, cfg.r, cfg.w, cfg.nd, nw=(4,) * 20))
        assert torch.allclose(par(x), base(x), atol=TOL)
        sub = par.extract_subnet()
        blocks = [b for st in sub.stages for b in st.blocks]
        assert all(isinstance(b, ParallelBlock) and list(b.branches) == ["mbconv"] for b in blocks)
    # other masks really change the function, and branch sets follow the bits
    par.set_active_subnet(SubnetConfig(cfg.ks, cfg.e, cfg.d, cfg.r, cfg.w, cfg.nd, nw=(7,) * 20))
    assert not torch.allclose(par(x), base(x), atol=1e-3)
    par.set_active_subnet(SubnetConfig(cfg.ks, cfg.e, cfg.d, cfg.r, cfg.w, cfg.nd, nw=(3,) * 20))
    sub = par.extract_subnet()
    assert list(sub.stages[0].blocks[0].branches) == ["conv1x1", "transform"]


def test_validation_refuses_out_of_space_before_forward():
    net = supernet("ofa_mbv3")
    before = net.set_max_net()
    bad_ks = dict(before.to_dict(), ks=[9] * 20)
    with pytest.raises(InvalidSubnetError, match=re.escape("'ks' of layer 0 (stage 1, block 1) is 9; this supernet allows [3, 5, 7]")):
        net.set_active_subnet(bad_ks)
    with pytest.raises(InvalidSubnetError, match="'r' is 224"):
        net.set_active_subnet(dict(before.to_dict(), r=224))
    with pytest.raises(InvalidSubnetError, match="single exit"):
        net.set_active_subnet(dict(before.to_dict(), nd=3))
    with pytest.raises(InvalidSubnetError, match="no parallel blocks"):
        net.set_active_subnet(dict(before.to_dict(), nw=[4] * 20))
    with pytest.raises(InvalidSubnetError, match="'d' of stage 2 is 1"):
        net.set_active_subnet(dict(before.to_dict(), d=[4, 1, 4, 4, 4]))
    assert net.active_subnet == before  # nothing changed by the refused configs
    with pytest.raises(InvalidSubnetError, match="exits"):
        net(torch.randn(1, 3, 32, 32), exits=[3])
    ee = supernet("ofav2_ee_p")
    with pytest.raises(InvalidSubnetError, match="'nd' is 6|exits are numbered"):
        ee.set_active_subnet(dict(ee.space.max_config().to_dict(), nd=6))
    with pytest.raises(InvalidSubnetError, match="'nw'"):
        ee.set_active_subnet(dict(ee.space.max_config().to_dict(), nw=[0] * 20))
    # a phase space narrower than the supernet's is fine; a wider one is refused
    narrow = ee.space.restrict(ks=[7], nd=[4, 5])
    cfg = ee.sample_active_subnet(np.random.default_rng(0), narrow)
    assert set(cfg.ks) == {7} and cfg.nd in (4, 5)
    with pytest.raises(InvalidSubnetError):
        ee.sample_active_subnet(np.random.default_rng(0), ee.space.restrict(e=[8]))
    ee.set_max_net()


def test_space_structure_checks():
    with pytest.raises(ConfigError, match="single-exit"):
        create("ofav2_se_b", 10, r=[32], nd=[1, 2])
    with pytest.raises(ConfigError, match="no parallel"):
        create("ofav2_ee_d", 10, r=[32], nw=[4, 7])
    with pytest.raises(ConfigError, match="unknown search-space"):
        create("ofa_mbv3", 10, depth=[2])
    ee = create("ofav2_ee_p", 10, r=32, d=[3, 4])
    assert ee.space.nd == (1, 2, 3, 4, 5) and ee.space.nw == tuple(range(1, 8)) and ee.space.r == (32,)
    assert ee.arch.max_depth == 4


def test_set_min_and_max_net():
    net = supernet("ofav2_ee_dp")
    lo = net.set_min_net()
    assert set(lo.ks) == {3} and set(lo.e) == {3} and set(lo.d) == {2} and lo.nd == 1 and set(lo.nw) == {1}
    hi = net.set_max_net()
    assert set(hi.ks) == {7} and set(hi.e) == {6} and set(hi.d) == {4} and hi.nd == 5 and set(hi.nw) == {7}


def test_kernel_transform_is_trainable():
    net = supernet("ofa_mbv3").train()
    cfg = net.set_active_subnet(SubnetConfig(ks=(3,) * 20, e=(4,) * 20, d=(2,) * 5, r=32))
    net.zero_grad(set_to_none=True)
    net(torch.randn(2, 3, 32, 32)).sum().backward()
    dw = net.stages[0].blocks[0].depthwise
    assert dw.transform_7to5.grad is not None and dw.transform_7to5.grad.abs().sum() > 0
    assert dw.transform_5to3.grad is not None and dw.transform_5to3.grad.abs().sum() > 0
    assert net.stages[0].blocks[3].depthwise.conv.weight.grad is None  # inactive block: no gradient
    net.zero_grad(set_to_none=True)
    net.eval()
    assert cfg == net.active_subnet


def test_kernel_transform_chain_matches_definition():
    """k=5: centre 5x5 through 7to5; k=3: centre 3x3 of that through 5to3 (x @ M^T per channel)."""
    net = _fresh("ofa_mbv3")
    dw = net.stages[0].blocks[0].depthwise
    with torch.no_grad():
        dw.transform_7to5.add_(0.1 * torch.randn(25, 25))
        dw.transform_5to3.add_(0.1 * torch.randn(9, 9))
    w = dw.conv.weight[:40].detach()
    w5 = (w[:, :, 1:6, 1:6].reshape(40, 25) @ dw.transform_7to5.detach().T).view(40, 1, 5, 5)
    w3 = (w5[:, :, 1:4, 1:4].reshape(40, 9) @ dw.transform_5to3.detach().T).view(40, 1, 3, 3)
    assert torch.allclose(dw.active_weight(5, 40), w5, atol=1e-6)
    assert torch.allclose(dw.active_weight(3, 40), w3, atol=1e-6)
    assert torch.equal(dw.active_weight(7, 40), w)


def test_sort_channels_keeps_max_net_function():
    net = _fresh("ofav2_se_p").eval()
    x = torch.randn(2, 3, 32, 32)
    net.set_max_net()
    before = net(x)
    block = net.elastic_blocks[5]
    w_before = block.project.conv.weight.clone()
    net.sort_channels(0)
    assert torch.allclose(net(x), before, atol=TOL)
    assert not torch.equal(block.project.conv.weight, w_before)  # sorting did reorder
    imp = block.project.conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(imp[:-1] >= imp[1:])  # most important first
    with pytest.raises(ConfigError):
        net.sort_channels(3)


def test_sort_channels_stage_offsets_keep_segments():
    """expand_stage=1 keeps channels inside the e=6 / e=4 segments, so e in {4, 6} subnets keep their function.

    SE hidden units are re-sorted over all channels (as in OFA), so SE stages (2, 4, 5) stay at e=6 here.
    """
    net = _fresh("ofa_mbv3").eval()
    rng = np.random.default_rng(1)
    x = torch.randn(2, 3, 32, 32)
    se_layers = {i for s in (1, 3, 4) for i in range(4 * s, 4 * s + 4)}
    cfgs = []
    for _ in range(3):
        c = net.space.restrict(e=[4, 6]).sample(rng)
        cfgs.append(SubnetConfig(c.ks, tuple(6 if i in se_layers else e for i, e in enumerate(c.e)), c.d, c.r))
    before = []
    for c in cfgs:
        net.set_active_subnet(c)
        before.append(net(x))
    net.sort_channels(1)
    for c, y in zip(cfgs, before):
        net.set_active_subnet(c)
        assert torch.allclose(net(x), y, atol=TOL)
    # within the e=4 segment the channels are sorted by importance, and the e=4 channels stay in front
    block: DynamicMBConv = net.elastic_blocks[0]
    imp = block.project.conv.weight.abs().sum(dim=(0, 2, 3))
    w4 = block.mids[4]
    assert torch.all(imp[: w4 - 1] >= imp[1:w4])
    # the e=6 tail is sorted too, up to the float32 resolution of OFA's -2e5 segment offset (~0.016)
    assert torch.all(imp[w4:-1] >= imp[w4 + 1 :] - 0.02)


def _manual_bn_average(module, bn, batches):
    """Reference: per-batch mean and biased variance of the BN input, batch-size-weighted averages."""
    captured = []
    h = bn.register_forward_pre_hook(lambda m, i: captured.append(i[0].detach().double()))
    module.train()
    with torch.no_grad():
        for b in batches:
            module(b)
    h.remove()
    n = sum(t.shape[0] for t in captured)
    mean = sum(t.mean(dim=(0, 2, 3)) * t.shape[0] for t in captured) / n
    var = sum(t.var(dim=(0, 2, 3), unbiased=False) * t.shape[0] for t in captured) / n
    return mean.float(), var.float()


def test_recalibrate_bn_is_exact_average():
    net = supernet("ofav2_se_b").eval()
    net.sample_active_subnet(np.random.default_rng(3))
    sub = net.extract_subnet().eval()
    batches = [torch.randn(5, 3, 32, 32), torch.randn(3, 3, 32, 32) * 2 + 1]  # unequal sizes: weighted mean
    target_bn = sub.stages[2].blocks[0].depthwise.bn
    old = target_bn.running_mean.clone()
    cal = recalibrate_bn(sub, batches)
    assert torch.equal(target_bn.running_mean, old) and not sub.training  # the original is untouched
    # reference from an independent copy computed by hand (its BN inputs are the same: upstream BNs use batch stats)
    ref_copy = copy.deepcopy(sub)
    mean, var = _manual_bn_average(ref_copy, ref_copy.stages[2].blocks[0].depthwise.bn, batches)
    got = cal.stages[2].blocks[0].depthwise.bn
    assert torch.allclose(got.running_mean, mean, atol=1e-5) and torch.allclose(got.running_var, var, atol=1e-5)
    assert not cal.training  # modes restored
    inplace = recalibrate_bn(sub, batches, inplace=True)
    assert inplace is sub and torch.allclose(sub.stages[2].blocks[0].depthwise.bn.running_var, var, atol=1e-5)


def test_recalibrate_bn_on_supernet_updates_active_slice_only():
    net = _fresh("ofa_mbv3").eval()
    net.set_active_subnet(SubnetConfig(ks=(3,) * 20, e=(3,) * 20, d=(2,) * 5, r=32))
    bn = net.stages[0].blocks[0].depthwise.bn  # 96 channels, 48 active at e=3
    tail = bn.running_var[48:].clone()
    cal = recalibrate_bn(net, [torch.randn(4, 3, 32, 32)])
    cbn = cal.stages[0].blocks[0].depthwise.bn
    assert torch.equal(cbn.running_var[48:], tail)
    assert not torch.allclose(cbn.running_var[:48], bn.running_var[:48])
    # extracted-then-calibrated equals calibrated-then-extracted
    x = torch.randn(2, 3, 32, 32)
    a = recalibrate_bn(net.extract_subnet(), [_fixed_batch()]).eval()(x)
    b = recalibrate_bn(net, [_fixed_batch()]).extract_subnet().eval()(x)
    assert torch.allclose(a, b, atol=TOL)


def test_recalibrate_bn_takes_image_label_pairs_casts_inputs_and_refuses_no_batches():
    from natv2.errors import DataError

    net = supernet("ofav2_se_b").eval()
    net.sample_active_subnet(np.random.default_rng(5))
    sub = net.extract_subnet().eval()
    images = [torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    plain = recalibrate_bn(sub, images)
    pairs = recalibrate_bn(sub, [(x, torch.zeros(4, dtype=torch.long)) for x in images])  # loader batches
    as_lists = recalibrate_bn(sub, [[x, torch.zeros(4, dtype=torch.long)] for x in images])
    for a, b, c in zip(plain.modules(), pairs.modules(), as_lists.modules()):
        if isinstance(a, torch.nn.BatchNorm2d):
            assert torch.equal(a.running_mean, b.running_mean) and torch.equal(a.running_var, c.running_var)
    double = recalibrate_bn(copy.deepcopy(sub).double(), images)  # float32 images reach a float64 model as float64
    for a, b in zip(plain.modules(), double.modules()):
        if isinstance(a, torch.nn.BatchNorm2d):
            assert b.running_mean.dtype == torch.float64
            assert torch.allclose(a.running_mean.double(), b.running_mean, atol=1e-4)
    with pytest.raises(DataError, match="no batches"):
        recalibrate_bn(sub, [])
    with pytest.raises(DataError, match="no batches"):
        recalibrate_bn(sub, iter([]))


def _fixed_batch():
    return torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))


def test_subnet_save_load_round_trip(tmp_path):
    net = supernet("ofav2_ee_dp").eval()
    cfg = net.sample_active_subnet(np.random.default_rng(11))
    for exits in (None, [1, 3, 5]):
        sub = net.extract_subnet(exits=exits).eval()
        stem = tmp_path / f"sub-{cfg.file_stem()}-{exits is not None}"
        w, c = save_subnet(sub, stem, {"subnet": cfg.to_dict(), "supernet": net.name})
        assert w.name.endswith(".safetensors") and c.name.endswith(".json")
        loaded = load_subnet(w)
        assert SubnetConfig.from_dict(read_subnet_meta(c)["subnet"]) == cfg
        x = torch.randn(2, 3, 32, 32)
        a, b = sub(x), loaded(x)
        if exits is None:
            assert torch.equal(a, b)
        else:
            assert len(b) == 3 and all(torch.equal(u, v) for u, v in zip(a, b))
    # wrong shapes: a clear error naming the tensor and both shapes
    doc = json.loads(c.read_text())
    doc["config"]["first_conv"]["out"] = 24
    doc["config"]["first_block"]["in"] = doc["config"]["first_block"]["out"] = doc["config"]["first_block"]["mid"] = 24
    c.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"first_conv.conv.weight' has shape \(16, 3, 3, 3\), the model expects \(24, 3, 3, 3\)"):
        load_subnet(c)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_subnet(tmp_path / "nothing")


def test_supernet_save_load_round_trip(tmp_path):
    net = supernet("ofav2_ee_d").eval()
    save_supernet(net, tmp_path / "sn", {"phase": "kernel"})
    back = load_supernet(tmp_path / "sn").eval()
    assert back.name == net.name and back.space == net.space and back.arch == net.arch
    cfg = net.sample_active_subnet(np.random.default_rng(2))
    back.set_active_subnet(cfg)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(net(x), back(x))
    other = create("ofav2_ee_d", n_classes=9, r=[32])
    with pytest.raises(CheckpointError, match=r"exits.1.classifier.weight' has shape \(7, 192\), the model expects \(9, 192\)"):
        load_supernet_weights(other, tmp_path / "sn.safetensors")
    rebuilt = create_from_arch(net.arch_dict())
    assert json.loads(json.dumps(net.arch_dict())) == rebuilt.arch_dict()


def test_channels_last_gives_same_outputs():
    """Supernet and extracted net run channels_last by default; NCHW (switched off) gives the same logits."""
    net = _fresh("ofav2_se_dp").eval()
    net.sample_active_subnet(np.random.default_rng(4))
    x = torch.randn(2, 3, 40, 40)
    assert net.channels_last
    a = net(x)
    sub = net.extract_subnet()
    assert sub.channels_last
    net.channels_last = sub.channels_last = False
    assert torch.allclose(net(x), a, atol=TOL) and torch.allclose(sub(x), a, atol=TOL)
    net_cl = net.to(memory_format=torch.channels_last)  # parameter layout does not matter either
    assert torch.allclose(net_cl(x.contiguous(memory_format=torch.channels_last)), a, atol=TOL)


def test_ofa_style_dict_without_resolution():
    net = supernet("ofa_mbv3")
    cfg = net.set_active_subnet({"ks": [3, 5, 7, 5] * 5, "e": [3, 4, 6, 4] * 5, "d": [2, 3, 4, 3, 2]})
    assert cfg.r == max(net.space.r) and cfg.w == 1.0 and cfg.d == (2, 3, 4, 3, 2)
    assert [st.depth for st in net.stages] == [2, 3, 4, 3, 2]
    assert net.stages[0].blocks[1].active_k == 5 and net.stages[0].blocks[1].active_mid == 96  # 24 * 4
    net.set_max_net()
