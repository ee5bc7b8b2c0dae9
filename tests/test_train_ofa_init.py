"""Training can start from a checkpoint in the format of OFA's published supernets (`{"state_dict": ...}`
saved with torch.save), read with weights_only=True (as a transfer source); a new class count gets a new classifier."""

from __future__ import annotations


import pytest
import torch

from natv2.train.build import build_supernet
from natv2.train.config import TrainConfig


@pytest.fixture(scope="module")
def ofa_checkpoint(tmp_path_factory, ofa_mbv3_cls):
    torch.manual_seed(0)
    ref = ofa_mbv3_cls(n_classes=1000, width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6],
                       depth_list=[2, 3, 4], dropout_rate=0.0)
    path = tmp_path_factory.mktemp("ofa") / "ofa_mbv3_d234_e346_k357_w1.0.pth.tar"
    torch.save({"state_dict": ref.state_dict()}, path)
    return ref.eval(), path


def test_same_class_count_gives_the_reference_logits(ofa_checkpoint):
    ref, path = ofa_checkpoint
    net = build_supernet(TrainConfig(supernet="ofa_mbv3", source=str(path), space={"r": [32]}), 1000).eval()
    ks, e, d = [3, 5, 7, 5] * 5, [6, 4, 3, 6] * 5, [2, 3, 4, 3, 2]
    ref.set_active_subnet(ks=ks, e=e, d=d)
    net.set_active_subnet({"ks": ks, "e": e, "d": d, "r": 32})
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (net(x) - ref(x)).abs().max().item() <= 1e-5


def test_new_class_count_gets_a_new_classifier(ofa_checkpoint):
    ref, path = ofa_checkpoint
    net = build_supernet(TrainConfig(supernet="ofa_mbv3", source=str(path), space={"r": [32]}), 10)
    linear = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert linear.out_features == 10
    # everything below the classifier is the checkpoint's
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert torch.equal(first.weight, ref.first_conv.conv.weight)
