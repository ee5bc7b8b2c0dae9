"""Shared test fixtures (keep small and generic)."""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

import pytest
import torch


from _real_data import CIFAR10, data_home  # noqa: E402 - resolved now, before the cache moves (below)

# The natv2 processes the tests start find exactly the tests' CIFAR-10 (_real_data says where it is).
if CIFAR10 is not None:
    os.environ["NATV2_DATA"] = str(data_home())


@pytest.fixture(scope="session", autouse=True)
def _caches_under_pytest_tmp(tmp_path_factory):
    """Tests write only under pytest's temporary folders: natv2's cache root ($NATV2_CACHE: decoded data,
    reference directions) defaults to ~/.cache/natv2 otherwise. Subprocesses inherit it."""
    # tools/mutate.py runs the tests once per mutant: it hands each run its own copy of warmed caches, in its
    # own temporary folder, so that Riesz directions are not recomputed hundreds of times
    given = os.environ.get("NATV2_TEST_CACHE_ROOT")
    root = Path(given) if given else tmp_path_factory.mktemp("natv2_cache")
    saved = {k: os.environ.get(k) for k in ("NATV2_CACHE",)}
    os.environ["NATV2_CACHE"] = str(root / "data")
    yield root
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests share a small machine: one intra-op thread each."""
    torch.set_num_threads(1)
    yield


def _install_torchvision_stand_in() -> None:
    """Make `import ofa` work where torchvision cannot be installed (CPU torch beside it).

    Only used when the real torchvision import fails. The `ofa` package imports torchvision at module
    level for its data loaders (RandomResizedCrop subclass, transforms.functional); the model code
    the tests compare against never calls it. The stand-in provides just those names.
    """
    try:
        importlib.import_module("torchvision")
        return
    except Exception:  # noqa: BLE001 - any failure means no usable torchvision
        pass
    tv = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")

    class _Unavailable:
        """Placeholder base class; instantiating data transforms is not supported by the stand-in."""

        def __init__(self, *args, **kwargs) -> None:
            raise RuntimeError("torchvision stand-in: data transforms are unavailable in tests")

    transforms.RandomResizedCrop = _Unavailable
    transforms.RandomCrop = _Unavailable
    transforms.functional = functional
    tv.transforms = transforms
    tv.__natv2_stand_in__ = True
    sys.modules.update(
        {"torchvision": tv, "torchvision.transforms": transforms, "torchvision.transforms.functional": functional}
    )


@pytest.fixture(scope="session")
def ofa_mbv3_cls():
    """The reference `ofa` package's OFAMobileNetV3 class (a test-only dependency)."""
    _install_torchvision_stand_in()
    module = importlib.import_module("ofa.imagenet_classification.elastic_nn.networks")
    return module.OFAMobileNetV3


def randomize_bn(module: torch.nn.Module, seed: int = 0) -> None:
    """Give every BN non-trivial affine parameters and running statistics (so eval mode tests something)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))


@pytest.fixture
def bn_randomizer():
    return randomize_bn
