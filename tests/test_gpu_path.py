"""The accelerator path: losses read in bursts, data kept and augmented on the device, exports checked there.

The CPU tests run everywhere. The CUDA tests skip without a GPU; `bench/gpu_session.sh` runs them on one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from natv2.data.augment import PadCrop, RandomResizedCrop, TrainTransform
from natv2.data.config import DataConfig
from natv2.data.placement import place_splits
from natv2.data.splits import DatasetSplits, ImageSplit
from natv2.supernets.registry import create
from natv2.train.dist import DistContext
from natv2.train.optim import WarmupCosine, make_sgd
from natv2.train.steps import EpochContext, LossSpec, SpaceSampler, TrainingDivergedError, run_epoch

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (bench/gpu_session.sh runs it)")


def _splits(n: int = 96, size: int = 16, classes: int = 4) -> DatasetSplits:
    g = torch.Generator().manual_seed(0)
    split = lambda m: ImageSplit(torch.randint(0, 256, (m, 3, size, size), dtype=torch.uint8, generator=g),  # noqa: E731
                                 torch.randint(0, classes, (m,), generator=g))
    return DatasetSplits("synthetic", split(n), split(32), split(32), [str(i) for i in range(classes)],
                         (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), "synthetic", "")


def _net(device: str = "cpu"):
    torch.manual_seed(0)
    return create("ofa_mbv3", 4, r=[16]).to(device)


def _epoch(net, device, sync_every, n_steps=6, lr=0.05, poison_step=None):
    """Losses reported per step and the final weights of one epoch of the full phase."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    xs = [torch.randn(8, 3, 16, 16, generator=g) for _ in range(n_steps)]
    ys = [torch.randint(0, 4, (8,), generator=g) for _ in range(n_steps)]
    if poison_step is not None:
        xs[poison_step] = xs[poison_step] * float("nan")
    opt = make_sgd(net, 0.0, 0.9, True, 1e-4, True)
    ec = EpochContext(net, opt, WarmupCosine(lr, 0, 100), SpaceSampler(net.space), LossSpec(0.1, 0.0), 1,
                      DistContext(device=torch.device(device)), channels_last=False, sync_every=sync_every)
    seen = []
    mean = run_epoch(ec, iter(zip(xs, ys)), n_steps, 0, on_step=lambda i, loss, n: seen.append((i, loss, n)))
    return mean, seen, {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


def test_reading_the_loss_every_few_steps_trains_exactly_as_reading_it_every_step():
    a = _epoch(_net(), "cpu", sync_every=1)
    b = _epoch(_net(), "cpu", sync_every=4)
    assert a[0] == b[0]
    assert [i for i, _, _ in b[1]] == list(range(6)), "every step is reported, in order, bursts included"
    assert [loss for _, loss, _ in a[1]] == [loss for _, loss, _ in b[1]]
    assert all(torch.equal(a[2][k], b[2][k]) for k in a[2])


def test_a_non_finite_loss_is_caught_inside_the_epoch_when_losses_are_read_in_bursts():
    net = _net()
    with pytest.raises(TrainingDivergedError, match="step 3 "):
        _epoch(net, "cpu", sync_every=100, poison_step=2)


def test_splits_stay_on_the_host_without_an_accelerator_or_when_switched_off():
    s = _splits()
    assert place_splits(s, "cpu", "auto") is s
    assert place_splits(s, None, "auto") is s
    assert place_splits(s, "cuda", "off") is s


def test_augmentation_draws_the_same_boxes_whatever_the_device_of_the_images():
    """Boxes and flips come from the CPU generator; only the resampling runs where the images are."""
    s = _splits()
    for crop in (PadCrop(4), RandomResizedCrop()):
        t = TrainTransform(crop, s.mean, s.std)
        a = t(s.train.images[:8], 24, torch.Generator().manual_seed(3))
        b = t(s.train.images[:8].clone(), 24, torch.Generator().manual_seed(3))
        assert torch.equal(a, b) and a.device.type == "cpu"


@cuda
def test_cuda_augmentation_matches_the_cpu_batch():
    s = _splits()
    for crop in (PadCrop(4), RandomResizedCrop()):
        t = TrainTransform(crop, s.mean, s.std)
        a = t(s.train.images[:16], 24, torch.Generator().manual_seed(3))
        b = t(s.train.images[:16].cuda(), 24, torch.Generator().manual_seed(3))
        assert b.device.type == "cuda"
        assert torch.allclose(a, b.cpu(), atol=1e-4), (a - b.cpu()).abs().max()


@cuda
def test_cuda_loaders_serve_device_batches_with_the_cpu_labels():
    from natv2.train.data import SplitsTrainingData

    cfg = DataConfig(batch_size=16, calib_size=32, calib_batch_size=16)
    host = SplitsTrainingData(_splits(), cfg, seed=0)
    dev = SplitsTrainingData(_splits(), cfg, seed=0, device=torch.device("cuda"))
    assert dev.splits.device.type == "cuda"
    for (xa, ya), (xb, yb) in zip(host.train_batches(5, [16], 0, 1), dev.train_batches(5, [16], 0, 1)):
        assert xb.device.type == "cuda" and torch.equal(ya, yb.cpu())
        assert torch.allclose(xa, xb.cpu(), atol=1e-4)
    for a, b in zip(host.calibration_batches(16), dev.calibration_batches(16)):
        assert torch.allclose(a, b.cpu(), atol=1e-4)


@cuda
def test_cuda_epoch_with_bursts_reports_every_step_and_trains_like_reading_every_step():
    a = _epoch(_net("cuda"), "cuda", sync_every=1)
    b = _epoch(_net("cuda"), "cuda", sync_every=25)
    assert [i for i, _, _ in b[1]] == list(range(6))
    assert math.isclose(a[0], b[0], rel_tol=1e-4)
    worst = max(float((a[2][k].float() - b[2][k].float()).abs().max()) for k in a[2])
    assert worst < 1e-3


@cuda
def test_cuda_non_finite_loss_is_still_caught():
    with pytest.raises(TrainingDivergedError):
        _epoch(_net("cuda"), "cuda", sync_every=25, poison_step=1)


@cuda
def test_cuda_evaluator_agrees_with_the_cpu_one():
    from natv2.measure.accuracy import SupernetEvaluator
    from natv2.train.data import SplitsTrainingData

    cfg = DataConfig(batch_size=16, calib_size=32, calib_batch_size=16, eval_batch_size=16)
    torch.manual_seed(0)
    net = create("ofav2_ee_d", 4, r=[16]).eval()
    cfgs = [net.space.sample(np.random.default_rng(i)) for i in range(3)]
    cpu = SupernetEvaluator(net, SplitsTrainingData(_splits(), cfg, seed=0), batch_size=16)(cfgs)
    gpu_net = create("ofav2_ee_d", 4, r=[16])
    gpu_net.load_state_dict(net.state_dict())
    gpu = SupernetEvaluator(gpu_net.cuda().eval(), SplitsTrainingData(_splits(), cfg, seed=0, device="cuda"),
                            batch_size=16)(cfgs)
    assert np.allclose(cpu, gpu, atol=1 / 32 + 1e-9), (cpu, gpu)  # at most one of 32 images flips


@cuda
def test_cuda_export_is_checked_on_the_device_too(tmp_path):
    from natv2.export.config import ExportConfig
    from natv2.export.exporter import export_model

    torch.manual_seed(0)
    sn = create("ofa_mbv3", 4, r=[32])
    sn.set_max_net()
    model = sn.extract_subnet().eval()
    rec = export_model(model, tmp_path / "m", {"resolution": 32, "n_classes": 4}, ExportConfig(formats=("safetensors", "torchscript")))
    assert {"safetensors@cuda", "torchscript@cuda"} <= set(rec.checks)
    assert rec.max_abs_diff < 1e-3
