"""The fast subnet evaluator (natv2.measure.accuracy.SupernetEvaluator) computes what the plain path
(extract -> recalibrate_bn -> evaluate) computes: same predictions, logits within float rounding; its
caches follow the supernet's weights; its pieces (kernel BN statistics, BN folding) are exact."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from natv2.measure.accuracy import (
    SupernetEvaluator,
    fold_batchnorm_,
    recalibrate_fast,
    reference_accuracy,
    reference_logits,
)
from natv2.supernets import create, recalibrate_bn

torch.set_num_threads(1)


class TinyData:
    """Fixed random images (any resolution by resizing), 3 calibration batches, 2 eval batches per split."""

    def __init__(self, n_val: int = 48, n_calib: int = 24, calib_batch: int = 10, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.base = {"val": torch.randn(n_val, 3, 24, 24, generator=g), "test": torch.randn(n_val // 2, 3, 24, 24, generator=g)}
        self.labels = {k: torch.randint(0, 10, (len(v),), generator=g) for k, v in self.base.items()}
        self.calib = torch.randn(n_calib, 3, 24, 24, generator=g)
        self.calib_batch = calib_batch
        self.calls = 0

    def _at(self, x: torch.Tensor, r: int) -> torch.Tensor:
        return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False).contiguous(memory_format=torch.channels_last)

    def calibration_batches(self, r: int):
        return [self._at(self.calib[i : i + self.calib_batch], r) for i in range(0, len(self.calib), self.calib_batch)]

    def eval_batches(self, r: int, split: str = "val"):
        self.calls += 1
        x, y = self.base[split], self.labels[split]
        half = (len(x) + 1) // 2
        return [(self._at(x[:half], r), y[:half]), (self._at(x[half:], r), y[half:])]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    net = create("ofav2_ee_d", 10, r=[16, 20]).eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():  # non-trivial BN parameters and statistics, so every BN matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
    rng = np.random.default_rng(3)
    cfgs = [net.space.sample(rng) for _ in range(3)] + [net.space.max_config(), net.space.min_config()]
    return net, TinyData(), cfgs


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    # float rounding of the BN statistics (float32 kernel vs float64 hook), of folded BN and of the cached head
    # is amplified by ~20 layers with random BN gains; measured <= 3.5e-4 of the logit scale here
    scale = float(a.abs().max())
    assert float((a - b).abs().max()) <= 5e-4 * max(1.0, scale)


def test_fast_path_equals_reference_path(setup):
    net, data, cfgs = setup
    ev = SupernetEvaluator(net, data, batch_size=16)
    for cfg in cfgs:
        ref, labels = reference_logits(net, cfg, data)
        fast, fast_labels = ev.logits(cfg)
        assert torch.equal(labels, fast_labels)
        _close(ref, fast)
        assert torch.equal(ref.argmax(1), fast.argmax(1))
    accs = ev(cfgs)
    assert accs == [reference_accuracy(net, c, data) for c in cfgs]
    assert all(0.0 <= a <= 1.0 for a in accs)


SPEED_UPS = ["cache_head", "fast_calibration", "fold_bn", "channels_last"]


def test_with_every_speed_up_off_the_evaluator_is_exactly_the_plain_path(setup):
    net, data, cfgs = setup
    ev = SupernetEvaluator(net, data, **{s: False for s in SPEED_UPS})
    for cfg in cfgs:
        ref, labels = reference_logits(net, cfg, data)
        got, got_labels = ev.logits(cfg)
        assert torch.equal(ref, got) and torch.equal(labels, got_labels)


@pytest.mark.parametrize("switch", SPEED_UPS)
def test_each_speed_up_alone_matches_the_plain_path(setup, switch):
    """Only `switch` on: channels_last is bitwise exact; the others change float rounding only (<= 2.5e-4 of
    the logit scale measured), never a prediction."""
    net, data, cfgs = setup
    ev = SupernetEvaluator(net, data, **{s: s == switch for s in SPEED_UPS})
    for cfg in cfgs[:3]:
        ref, got = reference_logits(net, cfg, data)[0], ev.logits(cfg)[0]
        if switch == "channels_last":
            assert torch.equal(ref, got)
        _close(ref, got)
        assert torch.equal(ref.argmax(1), got.argmax(1))


def test_streaming_large_splits_and_the_test_split(setup):
    net, data, cfgs = setup
    ev = SupernetEvaluator(net, data, cache_mb=0)  # nothing fits: inputs are streamed, head re-attached
    cfg = cfgs[0]
    _close(reference_logits(net, cfg, data, split="test")[0], ev.logits(cfg, split="test")[0])
    assert ev.evaluate([cfg], split="test") == [reference_accuracy(net, cfg, data, split="test")]


@pytest.mark.parametrize("cache_mb", [4096.0, 0.0])
def test_a_validation_subset_is_stratified_fixed_and_evaluated_exactly(setup, cache_mb):
    """search_stage.val_images: the evaluator scores the same class-stratified rows at every resolution,
    cached or streamed, exactly as the plain path scores those rows; other splits stay whole."""
    from natv2.data.stratify import stratified_holdout

    net, data, cfgs = setup
    ev = SupernetEvaluator(net, data, max_images=20, cache_mb=cache_mb)
    rows = stratified_holdout(data.labels["val"].numpy(), 20, seed=0)[1]
    for cfg in cfgs[:2] + [cfgs[0].__class__(**{**{k: getattr(cfgs[0], k) for k in ("ks", "e", "d", "w", "nd", "nw")}, "r": 16 if cfgs[0].r != 16 else 20})]:
        ref, labels = reference_logits(net, cfg, data)
        fast, fast_labels = ev.logits(cfg)
        assert torch.equal(fast_labels, labels[rows])
        _close(ref[rows], fast)
        assert ev([cfg]) == [float((ref[rows].argmax(1) == labels[rows]).double().mean())]
    assert ev.n_images == 20
    cfg = cfgs[0]
    assert ev.evaluate([cfg], split="test") == [reference_accuracy(net, cfg, data, split="test")]
    whole = SupernetEvaluator(net, data, max_images=len(data.labels["val"]) + 5)
    assert whole([cfg]) == SupernetEvaluator(net, data)([cfg]) and whole.n_images == len(data.labels["val"])
    with pytest.raises(Exception, match="max_images=0"):
        SupernetEvaluator(net, data, max_images=0)


def test_results_keep_input_order_across_resolutions_and_inputs_are_prepared_once(setup):
    net, _, cfgs = setup
    data = TinyData(seed=5)
    ev = SupernetEvaluator(net, data)
    mixed = [c.__class__(**{**{k: getattr(c, k) for k in ("ks", "e", "d", "w", "nd", "nw")}, "r": r})
             for c, r in zip(cfgs, [20, 16, 20, 16, 20])]
    got = ev(mixed)
    assert got == [ev([c])[0] for c in mixed]
    assert data.calls == 2  # one pass over the split per resolution, then cached
    assert ev.n_evaluated == 2 * len(mixed)


def test_head_cache_follows_weight_changes(setup):
    net0, data, cfgs = setup
    net = copy.deepcopy(net0)
    ev = SupernetEvaluator(net, data)
    cfg = cfgs[1]
    before = ev.logits(cfg)[0]
    with torch.no_grad():  # what an optimiser step does: in place
        net.first_conv.conv.weight.mul_(1.5)
        net.first_block.depthwise.conv.weight.add_(0.1)
    after = ev.logits(cfg)[0]
    assert float((after - before).abs().max()) > 1e-3
    _close(reference_logits(net, cfg, data)[0], after)
    ev.invalidate()
    _close(after, ev.logits(cfg)[0])


def test_kernel_statistics_recalibration_matches_recalibrate_bn(setup):
    net, data, cfgs = setup
    net.set_active_subnet(cfgs[0])
    sub = net.extract_subnet()
    batches = data.calibration_batches(16)
    ref = recalibrate_bn(sub, batches, inplace=False)
    fast = copy.deepcopy(sub)
    recalibrate_fast(fast, batches)
    for (name, a), (_, b) in zip(ref.named_buffers(), fast.named_buffers()):
        if name.endswith(("running_mean", "running_var")):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-6), name


def test_batchnorm_folding_keeps_outputs(setup):
    net, data, cfgs = setup
    net.set_active_subnet(cfgs[2])
    sub = net.extract_subnet().eval()
    x = data.calibration_batches(16)[0]
    with torch.no_grad():
        ref = sub(x)
        folded = fold_batchnorm_(copy.deepcopy(sub))
        count = lambda m: sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())  # noqa: E731
        assert count(sub) > 0 and count(folded) == 0
        _close(ref, folded(x))
