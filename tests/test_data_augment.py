"""Batched augmentation, the resolution sampler, and the train / eval / calibration loaders.

Speed is measured in bench/data.py, not here; these tests check shapes, exactness against
straightforward references, determinism per seed, and rank consistency.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from natv2.data import DataConfig, ResolutionSampler
from natv2.data.augment import (
    Boxes,
    Normalize,
    PadCrop,
    RandomResizedCrop,
    ResizeCenterCrop,
    make_eval_transform,
    make_train_transform,
    resample,
)
from natv2.data.loaders import CalibrationSampler, EvalLoader, TrainLoader, calibration_sampler, eval_loader
from natv2.data.splits import DatasetSplits, ImageSplit
from natv2.errors import ConfigError

MEAN, STD = (0.5, 0.4, 0.3), (0.25, 0.2, 0.3)


def make_split(n: int = 64, size: int = 16, classes: int = 4, seed: int = 0) -> ImageSplit:
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    return ImageSplit(images, torch.arange(n) % classes)


def make_splits(n: int = 64, size: int = 16) -> DatasetSplits:
    train, val, test = make_split(n, size), make_split(16, size, seed=1), make_split(12, size, seed=2)
    return DatasetSplits("toy", train, val, test, ["a", "b", "c", "d"], MEAN, STD, "toy", "")


def reference_norm(x: torch.Tensor) -> torch.Tensor:
    return Normalize(MEAN, STD)(x)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("augment", ["pad_crop", "random_resized_crop", "none"])
@pytest.mark.parametrize("res", [12, 16, 24])
def test_train_transform_shapes_dtype_layout(augment, res):
    t = make_train_transform(DataConfig(augment=augment), MEAN, STD)
    x = t(make_split(8).images, res, gen())
    assert x.shape == (8, 3, res, res) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert torch.isfinite(x).all()


def test_pad_crop_is_an_exact_shift_into_zero_padding():
    images = make_split(16).images
    crop = PadCrop(4)
    boxes = crop.boxes(16, 16, 16, gen(3))
    out = resample(images, boxes, (16, 16), Normalize(MEAN, STD))
    padded = F.pad(images, (4, 4, 4, 4)).float()
    for i in range(16):  # reference: slice each image
        oy, ox = int(boxes.y0[i]) + 4, int(boxes.x0[i]) + 4
        assert torch.allclose(out[i], reference_norm(padded[i : i + 1, :, oy : oy + 16, ox : ox + 16])[0], atol=1e-5)
    assert len({(float(a), float(b)) for a, b in zip(boxes.x0, boxes.y0)}) > 4  # offsets really vary


def test_flip_mirrors_exactly_and_hflip_false_never_flips():
    images = make_split(8).images
    full = Boxes(torch.zeros(8), torch.zeros(8), torch.full((8,), 16.0), torch.full((8,), 16.0))
    flip = torch.tensor([True, False] * 4)
    out = resample(images, full, (16, 16), Normalize(MEAN, STD), flip)
    expected = torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)
    assert torch.allclose(out, reference_norm(expected), atol=1e-5)
    no_flip = make_train_transform(DataConfig(augment="none", hflip=False), MEAN, STD)
    assert torch.allclose(no_flip(images, 16, gen()), reference_norm(images), atol=1e-5)


def test_resize_matches_torch_bilinear_both_ways():
    images = make_split(4, size=32).images
    full = Boxes(torch.zeros(4), torch.zeros(4), torch.full((4,), 32.0), torch.full((4,), 32.0))
    for size in (48, 64, 24, 16):
        out = resample(images, full, (size, size), Normalize(MEAN, STD))
        ref = F.interpolate(images.float(), size=(size, size), mode="bilinear", align_corners=False, antialias=size < 32)
        assert torch.allclose(out, reference_norm(ref), atol=1e-4), size


def test_random_resized_crop_boxes_stay_inside_and_respect_scale():
    rrc = RandomResizedCrop((0.35, 1.0))
    b = rrc.boxes(2000, 32, 48, gen(1))
    area = b.w * b.h / (32 * 48)
    assert (b.x0 >= 0).all() and (b.y0 >= 0).all()
    assert (b.x0 + b.w <= 48 + 1e-4).all() and (b.y0 + b.h <= 32 + 1e-4).all()
    assert area.max() <= 1.0 + 1e-5 and area.min() >= 0.35 * 0.74  # clamping can only shrink a box
    assert 0.55 < area.mean() < 0.75  # ~ uniform on (0.35, 1)
    with pytest.raises(ConfigError):
        RandomResizedCrop((0.0, 1.0))


def test_random_resized_crop_of_a_constant_image_stays_constant():
    images = torch.full((6, 3, 16, 16), 200, dtype=torch.uint8)
    t = make_train_transform(DataConfig(augment="random_resized_crop", crop_scale_min=0.1), MEAN, STD)
    out = t(images, 24, gen())
    assert torch.allclose(out, reference_norm(torch.full((1, 3, 1, 1), 200.0)).expand_as(out), atol=1e-4)


def test_same_seed_same_batch_other_seed_other_batch():
    images = make_split(32).images
    for augment in ("pad_crop", "random_resized_crop"):
        t = make_train_transform(DataConfig(augment=augment), MEAN, STD)
        a, b, c = t(images, 16, gen(7)), t(images, 16, gen(7)), t(images, 16, gen(8))
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_normalisation_uses_the_given_statistics():
    images = make_split(256, size=8).images
    splits_mean = tuple((images.float().mean(dim=(0, 2, 3)) / 255).tolist())
    splits_std = tuple((images.float().std(dim=(0, 2, 3), unbiased=False) / 255).tolist())
    t = make_eval_transform(DataConfig(), splits_mean, splits_std, (8, 8))
    x = t(images, 8)
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)


def test_eval_strategies_resize_or_centre_crop():
    images = make_split(2, size=80).images
    auto_big = make_eval_transform(DataConfig(), MEAN, STD, (80, 80))
    assert isinstance(auto_big.strategy, ResizeCenterCrop)  # ImageNet scale: resize + centre crop
    x = auto_big(images, 56)  # resize to ceil(56 / 0.875) = 64, centre crop 56
    ref = F.interpolate(images.float(), size=(64, 64), mode="bilinear", align_corners=False, antialias=True)[:, :, 4:60, 4:60]
    assert x.shape == (2, 3, 56, 56) and torch.allclose(x, reference_norm(ref), atol=0.06)
    small = make_eval_transform(DataConfig(), MEAN, STD, (32, 32))
    imgs32 = make_split(2, size=32).images
    assert torch.allclose(small(imgs32, 32), reference_norm(imgs32), atol=1e-5)  # native size: untouched
    forced = make_eval_transform(DataConfig(eval_resize="resize_center_crop"), MEAN, STD, (32, 32))
    assert not torch.allclose(forced(imgs32, 32), small(imgs32, 32))


def test_unknown_strategies_are_config_errors():
    with pytest.raises(ConfigError, match="augment"):
        make_train_transform(DataConfig(augment="mixup"), MEAN, STD)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="eval_resize"):
        make_eval_transform(DataConfig(eval_resize="stretch"), MEAN, STD, (32, 32))  # type: ignore[arg-type]


# -- resolution sampler ----------------------------------------------------------------------


def test_resolution_sampler_is_a_function_of_seed_epoch_step():
    rank0, rank1 = ResolutionSampler([24, 28, 32], seed=5), ResolutionSampler([24, 28, 32], seed=5)
    seq0 = [rank0(e, s) for e in range(3) for s in range(50)]
    seq1 = [rank1(e, s) for e in reversed(range(3)) for s in reversed(range(50))][::-1]  # other order, same answers
    assert seq0 == seq1
    assert set(seq0) == {24, 28, 32}
    assert seq0 != [ResolutionSampler([24, 28, 32], seed=6)(e, s) for e in range(3) for s in range(50)]
    assert ResolutionSampler(32)(3, 9) == 32
    with pytest.raises(ConfigError):
        ResolutionSampler([])


# -- loaders ---------------------------------------------------------------------------------


def _loader(split, rank=0, world=1, seed=0, res=(12, 16), batch=8, drop_last=True):
    t = make_train_transform(DataConfig(), MEAN, STD)
    return TrainLoader(split, t, batch, resolution=ResolutionSampler(res, seed), seed=seed, rank=rank,
                       world_size=world, drop_last=drop_last)


def test_ranks_get_disjoint_equal_shares_at_the_same_resolutions():
    split = make_split(70)
    l0, l1 = _loader(split, 0, 2), _loader(split, 1, 2)
    i0, i1 = l0.indices(3), l1.indices(3)
    assert len(i0) == len(i1) == 35 and not set(i0.tolist()) & set(i1.tolist())
    assert len(l0) == len(l1) == 4  # 35 // 8, last partial batch dropped
    shapes0 = [x.shape for epoch in range(4) for x, _ in l0.batches(epoch)]
    shapes1 = [x.shape for epoch in range(4) for x, _ in l1.batches(epoch)]
    assert shapes0 == shapes1 and {s[-1] for s in shapes0} == {12, 16}  # both resolutions drawn, in step
    for (x, y), b in zip(l0.batches(3), range(4)):
        assert torch.equal(y, split.labels[i0[b * 8 : (b + 1) * 8]])


def test_epochs_reshuffle_and_resume_mid_epoch_is_exact():
    split = make_split(64)
    loader = _loader(split, seed=3)
    assert not torch.equal(loader.indices(0), loader.indices(1))
    full = list(loader.batches(2))
    resumed = list(loader.batches(2, start_step=5))
    assert len(full) == 8 and len(resumed) == 3
    for (xa, ya), (xb, yb) in zip(full[5:], resumed):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    loader.set_epoch(2)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(iter(loader), full))


def test_no_drop_last_pads_ranks_to_equal_length():
    split = make_split(21)
    l0, l1 = _loader(split, 0, 2, drop_last=False), _loader(split, 1, 2, drop_last=False)
    assert len(l0.indices(0)) == len(l1.indices(0)) == 11
    assert sum(len(y) for _, y in l0.batches(0)) == 11


def test_batch_larger_than_data_is_a_config_error():
    with pytest.raises(ConfigError, match="does not fit"):
        _loader(make_split(10), batch=16)


def test_eval_loader_order_sharding_and_keep():
    splits = make_splits()
    cfg = DataConfig(eval_batch_size=5)
    loader = eval_loader(splits, "test", cfg, 16)
    ys = torch.cat([y for _, y in loader])
    assert torch.equal(ys, splits.test.labels) and len(loader) == 3
    parts = [torch.cat([y for _, y in eval_loader(splits, "test", cfg, 16, rank=r, world_size=2)]) for r in (0, 1)]
    assert sorted(torch.cat(parts).tolist()) == sorted(splits.test.labels.tolist())
    kept = EvalLoader(splits.val, make_eval_transform(cfg, MEAN, STD, (16, 16)), 12, 5, keep=True)
    first, second = list(kept), list(kept)
    assert all(a[0] is b[0] for a, b in zip(first, second))  # prepared once, then reused
    with pytest.raises(ConfigError):
        eval_loader(splits, "holdout", cfg, 16)


def test_calibration_sampler_is_fixed_per_seed_and_resolution():
    splits = make_splits(n=64)
    cfg = DataConfig(calib_size=20, calib_batch_size=8)
    a, b = calibration_sampler(splits, cfg, seed=1), calibration_sampler(splits, cfg, seed=1)
    assert torch.equal(a.indices, b.indices) and len(a.indices) == 20 and len(a) == 3
    batches = list(a.batches(12))
    assert [x.shape[0] for x in batches] == [8, 8, 4] and batches[0].shape[-1] == 12
    assert all(torch.equal(x, y) for x, y in zip(batches, b.batches(12)))
    assert not torch.equal(calibration_sampler(splits, cfg, seed=2).indices, a.indices)
    assert [x.shape[-1] for x in a.batches(16)] == [16, 16, 16]
    small = CalibrationSampler(splits.val, make_train_transform(cfg, MEAN, STD), 100, 8)
    assert len(small.indices) == len(splits.val)  # capped at the split size
