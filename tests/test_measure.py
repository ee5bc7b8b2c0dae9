"""natv2.measure: closed-form params/MACs vs hook counts of extracted subnets, OFA's counter, exits,
latency results, latency tables."""

from __future__ import annotations

import collections
import importlib
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau, spearmanr

import natv2.supernets as supernets
from natv2.errors import ConfigError, InvalidSubnetError
from natv2.measure import (
    FAMILIES,
    LatencyTable,
    cost_model,
    count_macs,
    count_params,
    layer_cost,
    layer_plan,
    measure_latency,
    measure_subnet_latency,
    validate_table,
)
from natv2.measure.blocks import build_layer, layer_input_shape
from natv2.measure.costs import CostModel
from natv2.measure.lut import TableValidation, distinct_layers
from natv2.space import N_LAYERS, N_STAGES, SearchSpace, SubnetConfig, ofa_mbv3_space

ALL_ARCHS = sorted(FAMILIES)
# From this input size on, the last stage's maps (r/32 >= 4) are large enough that no 7x7 tap is skipped.
NO_SKIPPED_TAPS_FROM = 128


def _create(name: str, n_classes: int, width_mult: float, r: list[int]):
    return supernets.create(name, n_classes, width_mult, r=r)


def _check_closed_form(name: str, width_mult: float, resolutions: list[int], n: int, seed: int, methods=("hooks",)) -> int:
    """Closed form == counters of the extracted network, for `n` random subnets; returns how many were checked."""
    net = _create(name, 10, width_mult, resolutions)
    model = cost_model(name, 10)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        cfg = net.sample_active_subnet(rng)
        sub = net.extract_subnet()
        assert count_params(sub) == model.params(cfg), (name, cfg)
        assert type(model.params(cfg)) is int and type(model.macs(cfg)) is int  # whole numbers, never floats
        for method in methods:
            counted = count_macs(sub, cfg.r, method=method)
            assert type(counted) is int
            if method == "dispatch" and cfg.r < NO_SKIPPED_TAPS_FROM:
                # dispatch counts what runs; the depthwise fast path skips taps that only meet padding
                assert counted <= model.macs(cfg), (name, method, cfg)
            else:
                assert counted == model.macs(cfg), (name, method, cfg)
    return n


# ------------------------------------------------------------------ closed form vs counters
@pytest.mark.parametrize("name", ALL_ARCHS)
def test_closed_form_equals_hook_count_every_variant(name):
    _check_closed_form(name, 1.0, [32, 40], n=3, seed=1, methods=("hooks", "dispatch"))
    _check_closed_form(name, 1.0, [128], n=1, seed=2, methods=("hooks", "dispatch"))


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_ARCHS)
@pytest.mark.parametrize("width_mult", [1.0, 1.2])
def test_closed_form_equals_hook_count_sweep(name, width_mult):
    """Many random subnets of every supernet, at two resolutions, both widths, both counting methods."""
    _check_closed_form(name, width_mult, [32, 64], n=25, seed=7, methods=("hooks", "dispatch"))
    _check_closed_form(name, width_mult, [128, 160], n=3, seed=8, methods=("hooks", "dispatch"))


def test_counters_convention_on_a_tiny_module():
    """Conv: Cout*H*W*Cin/groups*k*k; linear: in*out; BN/act/pool/bias uncounted; batch divided out."""
    m = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, 2, 1, bias=True),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 8, 5, 1, 2, groups=8, bias=False),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 5),
    )
    expected = 8 * 4 * 4 * 3 * 9 + 8 * 4 * 4 * 1 * 25 + 8 * 5
    assert count_macs(m, 8) == expected
    assert count_macs(m, (4, 3, 8, 8)) == expected
    assert count_macs(m, (3, 8, 8)) == expected  # (C, H, W): one image
    assert count_macs(m, 8, method="dispatch") == expected
    assert count_params(m) == (8 * 27 + 8) + 16 + 8 * 25 + (8 * 5 + 5)
    assert m.training  # mode restored
    # counts are whole numbers (ints), whatever the batch the input size names
    assert all(type(v) is int for v in (count_macs(m, 8), count_macs(m, (4, 3, 8, 8)), count_macs(m, (4, 3, 8, 8), method="dispatch"),
                                        count_params(m)))
    # trainable_only counts the parameters that train; by default every parameter counts
    m[0].weight.requires_grad_(False)
    assert count_params(m) == (8 * 27 + 8) + 16 + 8 * 25 + (8 * 5 + 5)
    assert count_params(m, trainable_only=True) == 8 + 16 + 8 * 25 + (8 * 5 + 5)


def test_cost_model_defaults():
    """The default cost model is OFA-MobileNetV3 with ImageNet's 1000 classes."""
    cfg = ofa_mbv3_space().max_config()
    default, explicit = cost_model(), cost_model("ofa_mbv3", 1000)
    assert (default.params(cfg), default.macs(cfg)) == (explicit.params(cfg), explicit.macs(cfg))
    assert CostModel().n_classes == 1000 and CostModel().arch == "ofa_mbv3"
    assert default.params(cfg) != cost_model("ofa_mbv3", 1001).params(cfg)


def test_timing_modules_match_closed_form():
    """The latency table times modules with exactly the params/MACs the closed form assigns to each layer."""
    for name in ("ofa_mbv3", "ofav2_ee_dp"):
        fam = FAMILIES[name]
        space = SearchSpace(r=(32,), w=(1.0, 1.2), nd=(1, 2, 3, 4, 5) if fam.exits else None, nw=tuple(range(1, 8)) if fam.parallel else None)
        layers = distinct_layers(name, 10, space)
        assert len(layers) == len(set(L.key() for L in layers))  # keys are unique per layer
        for L in layers:
            m = build_layer(L)
            got = (count_params(m), count_macs(m, layer_input_shape(L)))
            assert got == tuple(layer_cost(L)), L


# ------------------------------------------------------------------ known values, OFA reference
# OFA MobileNetV3 (k7 e6 d4) at 224 px, 1000 classes; cross-checked against `ofa` below.
KNOWN = {
    (1.0, "max"): (7_664_760, 566_170_656),
    (1.2, "max"): (10_701_632, 843_101_040),
    (1.0, "min"): (3_410_792, 121_278_672),
}


@pytest.mark.parametrize("key", sorted(KNOWN))
def test_known_values_ofa_mbv3_224(key):
    w, which = key
    space = ofa_mbv3_space((224,), (w,))
    cfg = space.max_config() if which == "max" else space.min_config()
    model = cost_model("ofa_mbv3", 1000)
    assert (model.params(cfg), model.macs(cfg)) == KNOWN[key]


def _ofa_subnet(ofa_net, cfg: SubnetConfig):
    ofa_net.set_active_subnet(ks=list(cfg.ks), e=list(cfg.e), d=list(cfg.d))
    return ofa_net.get_active_subnet(preserve_weight=True)


def test_same_macs_and_params_as_ofa_counter(ofa_mbv3_cls):
    """OFA's own count_net_flops / count_parameters on OFA's extracted subnets equal our closed form.

    Exact at small resolutions; at 224 px OFA sums in float32, so it may drift by a few MACs.
    """
    ofa_utils = importlib.import_module("ofa.utils")
    rng = np.random.default_rng(3)
    for w in (1.0, 1.2):
        ofa_net = ofa_mbv3_cls(n_classes=10, width_mult=w, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
        model = cost_model("ofa_mbv3", 10)
        space = ofa_mbv3_space((32, 48, 64), (w,))
        for _ in range(4):
            cfg = space.sample(rng)
            sub = _ofa_subnet(ofa_net, cfg)
            assert ofa_utils.count_net_flops(sub, (1, 3, cfg.r, cfg.r)) == model.macs(cfg)
            assert ofa_utils.count_parameters(sub) == model.params(cfg)
            assert count_macs(sub, cfg.r) == model.macs(cfg)  # our counter on OFA's module, too
    for (w, which), (params, macs) in KNOWN.items():
        ofa_net = ofa_mbv3_cls(n_classes=1000, width_mult=w, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
        space = ofa_mbv3_space((224,), (w,))
        sub = _ofa_subnet(ofa_net, space.max_config() if which == "max" else space.min_config())
        assert ofa_utils.count_parameters(sub) == params
        assert math.isclose(ofa_utils.count_net_flops(sub, (1, 3, 224, 224)), macs, rel_tol=1e-6)
        assert count_macs(sub, 224) == macs


# ------------------------------------------------------------------ early exits
def test_exit_macs_are_stages_up_to_k_plus_exit_k():
    """nd=k costs head + stages 1..k + exit k (hook-counted on the all-exits network), and grows with k."""
    net = _create("ofav2_ee_b", 10, 1.0, [48])
    model = cost_model("ofav2_ee_b", 10)
    rng = np.random.default_rng(5)
    for _ in range(3):
        cfg = net.sample_active_subnet(rng)
        net.set_active_subnet(replace(cfg, nd=5))
        full = net.extract_subnet(exits=[1, 2, 3, 4, 5])
        per_module = _macs_by_child(full, cfg.r)
        stem = per_module["first_conv"] + per_module["first_block"]
        macs = []
        for k in range(1, N_STAGES + 1):
            expected = stem + sum(per_module[f"stages.{s}"] for s in range(k)) + per_module[f"exits.{k}"]
            macs.append(model.macs(replace(cfg, nd=k)))
            assert macs[-1] == expected, k
            net.set_active_subnet(replace(cfg, nd=k))
            assert count_macs(net.extract_subnet(), cfg.r) == expected
        assert all(b > a for a, b in zip(macs, macs[1:])), macs


@pytest.mark.parametrize("name", ["ofav2_ee_b", "ofav2_ee_d"])
def test_exit_macs_strictly_increase_many_configs(name):
    """For plain and dense early-exit nets, a later exit always costs more MACs and params (closed form)."""
    model = cost_model(name, 200)
    space = SearchSpace(r=tuple(range(32, 225, 8)), w=(1.0, 1.2), nd=(1, 2, 3, 4, 5))
    rng = np.random.default_rng(0)
    for _ in range(500):
        cfg = space.sample(rng)
        macs = [model.macs(replace(cfg, nd=k)) for k in range(1, 6)]
        params = [model.params(replace(cfg, nd=k)) for k in range(1, 6)]
        assert all(b > a for a, b in zip(macs, macs[1:])), (cfg, macs)
        assert all(b > a for a, b in zip(params, params[1:])), (cfg, params)


def _macs_by_child(net: torch.nn.Module, r: int) -> dict[str, int]:
    """Hook-counted MACs per child module (first_conv, first_block, stages.i, exits.k)."""
    out = {}
    for name, child in net.named_modules():
        if name in ("first_conv", "first_block") or (name.count(".") == 1 and name.split(".")[0] in ("stages", "exits")):
            out[name] = 0
    handles = []

    def hook_for(prefix):
        def hook(m, inp, y):
            if isinstance(m, torch.nn.Conv2d):
                out[prefix] += y.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            elif isinstance(m, torch.nn.Linear):
                out[prefix] += y.numel() // m.out_features * m.in_features * m.out_features

        return hook

    for prefix in list(out):
        for m in net.get_submodule(prefix).modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                handles.append(m.register_forward_hook(hook_for(prefix)))
    with torch.no_grad():
        net.eval()(torch.zeros(1, 3, r, r))
    for h in handles:
        h.remove()
    return out


# ------------------------------------------------------------------ parallel / dense specifics
def test_parallel_masks_and_dense_skips_in_the_closed_form():
    """A 1-branch MBConv mask costs the same as the plain block; dense skips add nothing; branches add their convs."""
    rng = np.random.default_rng(2)
    cfg = ofa_mbv3_space((64,)).sample(rng)
    base = cost_model("ofav2_se_b", 10).cost(cfg)
    assert cost_model("ofav2_se_d", 10).cost(cfg) == base
    assert cost_model("ofav2_se_p", 10).cost(replace(cfg, nw=(4,) * N_LAYERS)) == base
    full = cost_model("ofav2_se_p", 10).cost(replace(cfg, nw=(7,) * N_LAYERS))
    assert full.params > base.params and full.macs > base.macs
    # nw=None on a parallel family means every branch (the space's default max)
    assert cost_model("ofav2_se_p", 10).cost(cfg) == full


def test_wrong_fields_for_family_are_refused():
    cfg = ofa_mbv3_space((32,)).max_config()
    with pytest.raises(InvalidSubnetError, match="single exit"):
        cost_model("ofa_mbv3", 10).macs(replace(cfg, nd=3))
    with pytest.raises(InvalidSubnetError, match="no parallel"):
        cost_model("ofav2_se_d", 10).macs(replace(cfg, nw=(7,) * N_LAYERS))
    with pytest.raises(ConfigError, match="unknown supernet family"):
        cost_model("resnet50", 10)


def test_pruned_and_full_configs_cost_the_same():
    """Placeholder values in skipped slots never change the cost (canonical configs)."""
    model = cost_model("ofav2_ee_dp", 10)
    rng = np.random.default_rng(4)
    space = SearchSpace(r=(32,), nd=(1, 2, 3, 4, 5), nw=tuple(range(1, 8)))
    for _ in range(20):
        cfg = space.sample(rng)
        assert model.cost(SubnetConfig.from_dict(cfg.to_dict(canonical=True))) == model.cost(cfg)


# ------------------------------------------------------------------ latency
def test_measure_latency_result_fields_and_no_side_effects():
    net = _create("ofa_mbv3", 10, 1.0, [32]).extract_subnet()
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    res = measure_latency(net, 32, batch_size=2, threads=1, warmup=1, runs=5)
    assert res.runs == 5 and res.warmup == 1 and res.batch_size == 2 and res.resolution == 32
    assert res.threads == 1 and res.device == "cpu" and res.device_name and res.torch_version == torch.__version__
    assert res.channels_last is True
    assert 0 < res.min_ms <= res.p10_ms <= res.median_ms <= res.p90_ms
    assert res.q25_ms <= res.median_ms <= res.q75_ms and res.iqr_ms >= 0 and res.mean_ms > 0
    assert set(res.to_dict()) >= {"median_ms", "p10_ms", "p90_ms", "mean_ms", "runs", "batch_size", "threads", "device_name"}
    assert net.training  # caller's module untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError):
        measure_latency(net, 32, runs=0)


def test_measure_subnet_latency_restores_active_subnet():
    sn = _create("ofav2_ee_b", 10, 1.0, [32])
    rng = np.random.default_rng(0)
    active = sn.sample_active_subnet(rng)
    other = sn.space.sample(rng)
    res = measure_subnet_latency(sn, other, threads=1, warmup=0, runs=2)
    assert res.resolution == other.r and res.runs == 2
    assert sn.active_subnet == active


def _tiny_space(**kw) -> SearchSpace:
    return SearchSpace(ks=(3, 5), e=(3,), d=(2, 3), **kw)


def test_latency_table_build_predict_save_load(tmp_path):
    space = _tiny_space(nd=(2, 5), r=(32,))
    table = LatencyTable.build("ofav2_ee_d", 10, 1.0, (32,), threads=1, warmup=0, runs=2, space=space)
    meta = table.meta
    assert meta["arch"] == "ofav2_ee_d" and meta["resolutions"] == [32] and meta["threads"] == 1
    assert meta["device"] == "cpu" and meta["device_name"] and meta["torch_version"] == torch.__version__
    assert meta["n_entries"] == len(table.entries) == len(distinct_layers("ofav2_ee_d", 10, space))
    rng = np.random.default_rng(0)
    fam = FAMILIES["ofav2_ee_d"]
    for _ in range(5):
        cfg = space.sample(rng)
        keys = [L.key() for L in layer_plan(fam, cfg, 10)]
        assert table.predict(cfg) == pytest.approx(sum(table.entries[k] for k in keys))
        assert table.predict(cfg) > 0
    # an earlier exit drops layers and swaps the exit head: the predictions differ by exactly those entries
    # (no comparison of two timings, whose order the machine's noise could flip)
    cfg = space.max_config()
    short = collections.Counter(L.key() for L in layer_plan(fam, replace(cfg, nd=2), 10))
    full = collections.Counter(L.key() for L in layer_plan(fam, cfg, 10))
    assert sum(full.values()) > sum(short.values()) + 5
    assert table.predict(cfg) - table.predict(replace(cfg, nd=2)) == pytest.approx(
        sum(table.entries[k] * n for k, n in (full - short).items()) - sum(table.entries[k] * n for k, n in (short - full).items()))
    for suffix in (".json", ".yaml"):
        path = table.save(tmp_path / f"lut{suffix}")
        again = LatencyTable.load(path)
        assert again.entries == pytest.approx(table.entries) and again.meta["arch"] == "ofav2_ee_d"
        assert again.predict(cfg) == pytest.approx(table.predict(cfg))
    with pytest.raises(ConfigError, match="no entry"):
        table.predict(replace(cfg, r=64))
    with pytest.raises(ConfigError, match="does not exist"):
        LatencyTable.load(tmp_path / "missing.json")


def test_latency_table_parallel_family_covers_every_mask():
    space = SearchSpace(ks=(3,), e=(3,), d=(2,), nw=tuple(range(1, 8)))
    table = LatencyTable.build("ofav2_se_p", 10, 1.0, (32,), threads=1, warmup=0, runs=1, space=space)
    rng = np.random.default_rng(1)
    for _ in range(10):
        assert table.predict(space.restrict(r=(32,)).sample(rng)) > 0


def test_validate_table_reports_errors_and_rank_correlation():
    sn = _create("ofa_mbv3", 10, 1.0, [32])
    space = _tiny_space().restrict(r=(32,))
    table = LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), threads=1, warmup=1, runs=3, space=space)
    report = validate_table(table, sn, n=4, seed=0, space=space, warmup=1, runs=3)
    assert report.n == 4 and len(report.predicted_ms) == len(report.measured_ms) == 4
    assert all(v > 0 for v in report.measured_ms)
    rel = [abs(p - m) / m * 100 for p, m in zip(report.predicted_ms, report.measured_ms)]
    assert report.mean_abs_pct_error == pytest.approx(float(np.mean(rel)))
    assert report.spearman == pytest.approx(spearmanr(report.predicted_ms, report.measured_ms).statistic)
    assert report.kendall == pytest.approx(kendalltau(report.predicted_ms, report.measured_ms).statistic)
    # the statistics themselves, on values with a known answer
    exact = TableValidation.from_arrays([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0])
    assert (exact.spearman, exact.kendall, exact.mean_abs_pct_error) == (pytest.approx(1.0), pytest.approx(1.0), pytest.approx(50.0))
    reversed_ = TableValidation.from_arrays([1.0, 2.0, 3.0, 4.0], [8.0, 6.0, 4.0, 2.0])
    assert reversed_.spearman == pytest.approx(-1.0) and reversed_.kendall == pytest.approx(-1.0)
    assert "Spearman" in report.summary()


def test_calibrated_table_is_a_positive_affine_map_of_the_sum():
    sn = _create("ofa_mbv3", 10, 1.0, [32])
    space = _tiny_space().restrict(r=(32,))
    table = LatencyTable.build("ofa_mbv3", 10, 1.0, (32,), threads=1, warmup=0, runs=2, space=space)
    cal = table.calibrate(sn, n=3, space=space, warmup=0, runs=2)
    c = cal.meta["calibration"]
    assert c["n"] == 3 and c["scale"] > 0 and "calibration" not in table.meta
    rng = np.random.default_rng(0)
    cfgs = [space.sample(rng) for _ in range(6)]
    for cfg in cfgs:
        assert cal.predict_raw(cfg) == table.predict(cfg)
        assert cal.predict(cfg) == pytest.approx(c["scale"] * table.predict(cfg) + c["offset_ms"])
    order = lambda t: np.argsort([t.predict(x) for x in cfgs], kind="stable").tolist()  # noqa: E731
    assert order(cal) == order(table)
    with pytest.raises(ValueError):
        table.calibrate(sn, n=1)


def test_interleaved_times_gives_each_item_its_runs():
    from natv2.measure.latency import interleaved_times

    items = [(torch.nn.Conv2d(3, 4, 3).eval(), torch.zeros(1, 3, 8, 8)), (torch.nn.Identity(), torch.zeros(2))]
    times = interleaved_times(items, warmup=1, runs=7, rounds=3)
    assert [len(t) for t in times] == [7, 7] and all(v >= 0 for t in times for v in t)
    assert [len(t) for t in interleaved_times(items, warmup=0, runs=2, rounds=5)] == [2, 2]  # rounds capped at runs
