"""The whole CIFAR-10 the tests use (60,000 images: the shared JPEG folders, or the official batches a
download gives): decoded, split, cached. Slow tier: decoding the JPEGs takes ~15 s of CPU with the
process pool; the cached reload must not decode anything."""

from __future__ import annotations

import pytest
import torch

from natv2.data import DataConfig, load_dataset, train_loader

from _real_data import cifar10_root

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.mark.slow
def test_full_cifar10_counts_splits_and_cache(tmp_path, monkeypatch):
    root = cifar10_root()
    cfg = DataConfig(name="cifar10", root=str(root), cache_dir=str(tmp_path / "cache"), decode_workers=2)
    s = load_dataset(cfg)
    assert s.classes == CLASSES
    assert len(s.train) + len(s.val) == 50000 and len(s.test) == 10000
    assert (len(s.train), len(s.val)) == (45000, 5000)
    assert s.train.class_counts(10) == [4500] * 10 and s.val.class_counts(10) == [500] * 10
    assert s.test.class_counts(10) == [1000] * 10
    assert s.train.images.shape[1:] == (3, 32, 32) and s.train.images.dtype == torch.uint8
    # JPEG re-encoded CIFAR-10: means match the usual (0.4914, 0.4822, 0.4465) closely
    assert all(abs(a - b) < 0.01 for a, b in zip(s.mean, (0.4914, 0.4822, 0.4465)))

    import natv2.data.images as images

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cached load decoded images")

    monkeypatch.setattr(images, "decode_files", no_decoding)
    monkeypatch.setattr("natv2.data.sources.folders.decode_files", no_decoding)
    again = load_dataset(cfg)
    assert torch.equal(again.val.images, s.val.images) and again.cache_path == s.cache_path

    x, y = next(train_loader(again, DataConfig(batch_size=256), [24, 28, 32], seed=0).batches(0))
    assert x.shape[0] == 256 and x.shape[-1] in (24, 28, 32) and y.dtype == torch.int64
