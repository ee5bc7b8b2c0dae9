"""One architecture description: a family registered at run time with a changed MacroArch gets exact
params/MACs (and a layer plan for latency tables) from its own MacroArch, with no other code."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from natv2.measure import cost_model, count_macs, count_params
from natv2.measure.lut import distinct_layers
from natv2.space import SearchSpace
from natv2.supernets import create
from natv2.supernets import registry as reg

NAME = "test_wide_ee_d"


@pytest.fixture
def wide_family():
    @reg.register_supernet(NAME)
    def _wide() -> reg.SupernetVariant:
        return reg.SupernetVariant(early_exit=True, dense=True, resolutions=(32,), macro={
            "stage_channels": (32, 48, 88, 120, 176), "strides": (2, 1, 2, 2, 1), "stem": 24, "first_block": 24,
            "acts": ("h_swish", "relu", "relu", "h_swish", "relu"), "use_se": (True, False, True, False, True)})

    try:
        yield NAME
    finally:
        reg._REGISTRY.unregister(NAME)  # the registry refuses duplicates; leave it as it was


def test_registered_macro_arch_gets_exact_costs(wide_family):
    torch.manual_seed(0)
    net = create(wide_family, 10, r=[32]).eval()
    rng = np.random.default_rng(0)
    model = cost_model(wide_family, 10)
    by_arch = cost_model(net.arch, 10)  # the supernet's own MacroArch works as well as its name
    for _ in range(4):
        cfg = net.space.sample(rng)
        net.set_active_subnet(cfg)
        sub = net.extract_subnet().eval()
        hooks = (count_params(sub), count_macs(sub, (1, 3, cfg.r, cfg.r)))
        assert (model.params(cfg), model.macs(cfg)) == hooks, cfg
        assert (by_arch.params(cfg), by_arch.macs(cfg)) == hooks
    # the default family's costs differ: the change is really read from the MacroArch
    base = cost_model("ofav2_ee_d", 10)
    assert base.params(cfg) != model.params(cfg)


def test_registered_family_has_latency_table_layers(wide_family):
    space = SearchSpace(r=(32,), w=(1.0,), nd=(1, 2, 3, 4, 5))
    layers = distinct_layers(wide_family, 10, space)
    assert any(L.cin == 24 for L in layers) and any(L.cout == 176 for L in layers)
