"""Supernet adaptation during the search (natv2.train.adapt, spec §3.8): it trains the supernet in
place on subnets from the search's sampler, tells the evaluator, and resumes a killed iteration from
its last saved epoch to exactly the weights of an uninterrupted run."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from natv2.data import DataConfig, load_dataset
from natv2.errors import CheckpointError
from natv2.space import SearchSpace
from natv2.supernets import create
from natv2.train.adapt import AdaptConfig, SupernetAdaptation
from natv2.train.data import SplitsTrainingData
from natv2.train.losses import ensemble_logits

torch.set_num_threads(1)

CFG = AdaptConfig(steps_per_epoch=2, warmup_epochs=1)


@pytest.fixture(scope="module")
def data():
    dc = DataConfig(name="digits", train_subset=None, val_size=64, batch_size=16, calib_size=32,
                    calib_batch_size=16, eval_batch_size=64)
    return SplitsTrainingData(load_dataset(dc), dc, seed=0)


@pytest.fixture(scope="module")
def supernet():
    torch.manual_seed(0)
    return create("ofa_mbv3", 10, r=[16]).eval()


def sampler(space: SearchSpace):
    seen = []

    def draw(rng: np.random.Generator):
        cfg = space.sample(rng)
        seen.append(cfg)
        return cfg

    draw.seen = seen
    return draw


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_adaptation_trains_the_supernet_with_the_search_sampler(data, supernet, tmp_path):
    net = copy.deepcopy(supernet)
    before = _state(net)
    changes = []
    ad = SupernetAdaptation(net, data, CFG, tmp_path / "adapt", iterations=2, epochs_per_iteration=1,
                            resolutions=[16], on_change=lambda: changes.append(1))
    draw = sampler(net.space)
    assert ad.adapt(draw, 1) is True
    assert len(draw.seen) == 2 * CFG.subnets_per_step  # 2 steps x 4 subnets
    moved = [k for k, v in net.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.endswith("weight") for k in moved)
    assert changes, "the evaluator must hear that the weights changed"
    assert (tmp_path / "adapt" / "state.json").exists() and (tmp_path / "adapt" / "teacher.safetensors").exists()
    assert ad.history[-1]["iteration"] == 1 and np.isfinite(ad.history[-1]["loss"])
    # no epochs, or adaptation switched off: nothing happens
    zero = SupernetAdaptation(copy.deepcopy(supernet), data, CFG, None, iterations=1, epochs_per_iteration=0, resolutions=[16])
    assert zero.adapt(draw, 1) is False
    off = SupernetAdaptation(copy.deepcopy(supernet), data, AdaptConfig(enabled=False, steps_per_epoch=2), None,
                             iterations=1, epochs_per_iteration=1, resolutions=[16])
    assert off.adapt(draw, 1) is False


class Killed(Exception):
    pass


def test_a_killed_adaptation_resumes_to_the_uninterrupted_weights(data, supernet, tmp_path):
    def run(root, kill_after=None):
        net = copy.deepcopy(supernet)
        logs = []

        def log(msg):
            logs.append(msg)
            if kill_after is not None and len(logs) == kill_after:
                raise Killed(msg)

        ad = SupernetAdaptation(net, data, CFG, root, iterations=2, epochs_per_iteration=2, resolutions=[16], log=log)
        for it in (1, 2):
            ad.adapt(sampler(net.space), it)
        return net

    ref = run(tmp_path / "ref")
    with pytest.raises(Killed):
        run(tmp_path / "b", kill_after=3)  # dies after iteration 2, epoch 1 was saved
    resumed_net = copy.deepcopy(supernet)
    ad = SupernetAdaptation(resumed_net, data, CFG, tmp_path / "b", iterations=2, epochs_per_iteration=2, resolutions=[16])
    assert ad.state.iteration == 2 and ad.state.epochs_done == 1
    assert ad.adapt(sampler(resumed_net.space), 2) is True
    for k, v in ref.state_dict().items():
        assert torch.equal(v, resumed_net.state_dict()[k]), k
    # an iteration the checkpoint already finished is not trained again
    again = copy.deepcopy(supernet)
    ad2 = SupernetAdaptation(again, data, CFG, tmp_path / "b", iterations=2, epochs_per_iteration=2, resolutions=[16])
    draw = sampler(again.space)
    assert ad2.adapt(draw, 2) is True and draw.seen == []
    with pytest.raises(CheckpointError):
        ad2.adapt(draw, 1)  # the journal and the checkpoint disagree


def test_early_exit_supernets_distil_from_the_all_exits_teacher(data, tmp_path, monkeypatch):
    """Every step's soft labels are the teacher's β-weighted ensemble of all 5 exits, and they change what the
    student learns (the same adaptation without a teacher ends at other weights)."""
    torch.manual_seed(0)
    start = create("ofav2_ee_b", 10, r=[16]).eval()
    net = copy.deepcopy(start)
    ad = SupernetAdaptation(net, data, CFG, None, iterations=1, epochs_per_iteration=1, resolutions=[16])
    assert ad.teacher is not None and ad.teacher.net.outputs == [1, 2, 3, 4, 5]
    weights = CFG.exit_ensemble_weights
    assert len(weights) == 5 and list(weights) == sorted(weights, reverse=True)
    soft_calls = []
    real = ad.teacher.soft_labels

    def spy(x):
        soft = real(x)
        with torch.no_grad():
            exits = ad.teacher.net(x)  # BN in the teacher's mode, as soft_labels left it
        assert isinstance(exits, (list, tuple)) and len(exits) == 5
        assert torch.allclose(soft, torch.softmax(ensemble_logits(exits, weights), dim=1), atol=1e-6)
        assert not torch.allclose(soft, torch.softmax(exits[-1], dim=1), atol=1e-4)  # not the last exit alone
        soft_calls.append(len(x))
        return soft

    monkeypatch.setattr(ad.teacher, "soft_labels", spy)
    before = _state(net)
    assert ad.adapt(sampler(net.space), 1)
    assert len(soft_calls) == CFG.steps_per_epoch  # one teacher pass per step
    assert any(not torch.equal(v, before[k]) for k, v in net.state_dict().items())
    alone = copy.deepcopy(start)
    no_kd = SupernetAdaptation(alone, data, replace(CFG, teacher="none"), None, iterations=1, epochs_per_iteration=1,
                               resolutions=[16])
    assert no_kd.teacher is None and no_kd.adapt(sampler(alone.space), 1)
    assert any(not torch.equal(v, alone.state_dict()[k]) for k, v in net.state_dict().items() if k.endswith("weight"))
