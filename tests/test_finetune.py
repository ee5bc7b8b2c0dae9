"""Post-processing (spec §4.7): AEP weights, the two-step protocol, multi-exit costs, selection, resume."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from natv2.config import ConfigError
from natv2.errors import RunDirError
from natv2.finetune import loop
from natv2.finetune.build import builder
from natv2.finetune.config import FinetuneConfig
from natv2.finetune.costs import subnet_cost
from natv2.finetune.loop import EvalResult
from natv2.finetune.multi_exit import MultiExitEnsemble
from natv2.finetune.objectives import MultiExitObjective, SingleExitObjective
from natv2.finetune.protocol import OptimSpec, TwoStepFinetuner
from natv2.finetune.runner import FinetuneRunner
from natv2.finetune.selection import Candidate, non_dominated, select_subnets
from natv2.finetune.weights import exit_weights
from natv2.measure import count_macs, count_params
from natv2.space import SubnetConfig
from natv2.supernets import create, recalibrate_bn

torch.set_num_threads(1)
N_CLASSES = 4


# ----------------------------------------------------------------------------- helpers
class TensorData:
    """Synthetic splits at 32 px (class = brightest colour channel), recording what is asked for."""

    def __init__(self, n_train: int = 32, n_val: int = 16, n_test: int = 16, batch: int = 8, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)

        def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            y = torch.randint(0, N_CLASSES, (n,), generator=g)
            x = torch.randn(n, 3, 32, 32, generator=g) * 0.5
            x[torch.arange(n), y % 3] += 1.0 + (y // 3).float()[:, None, None]
            return x, y

        self.train, self.val, self.test = make(n_train), make(n_val), make(n_test)
        self.batch = batch
        self.requests: list[tuple] = []

    def _batches(self, x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor | None = None) -> list:
        if perm is not None:
            x, y = x[perm], y[perm]
        return [(x[i : i + self.batch], y[i : i + self.batch]) for i in range(0, len(y), self.batch)]

    def train_batches(self, epoch: int, include_val: bool) -> list:
        self.requests.append(("train", epoch, include_val))
        x, y = self.train
        if include_val:
            x, y = torch.cat([x, self.val[0]]), torch.cat([y, self.val[1]])
        return self._batches(x, y, torch.randperm(len(y), generator=torch.Generator().manual_seed(epoch)))

    def eval_batches(self, split: str) -> list:
        self.requests.append(("eval", split))
        return self._batches(*{"val": self.val, "test": self.test}[split])

    def calib_batches(self) -> list:
        return [self.train[0][:16]]


def tiny_net() -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, N_CLASSES))


def no_recalibration(model: nn.Module, batches) -> nn.Module:
    return model


@pytest.fixture(scope="module")
def ee_supernet():
    torch.manual_seed(0)
    return create("ofav2_ee_b", N_CLASSES, r=[32])


def ee_config(nd: int, seed: int = 0) -> SubnetConfig:
    rng = np.random.default_rng(seed)
    base = create("ofav2_ee_b", N_CLASSES, r=[32]).space
    cfg = base.sample(rng)
    return SubnetConfig.from_dict({**cfg.to_dict(), "nd": nd})


# ----------------------------------------------------------------------------- AEP weights
def test_exit_weights_follow_the_generator_and_orderings():
    asc = [round(i / 15, 4) for i in range(1, 6)]
    assert exit_weights(5, "ASC") == (asc, asc)
    assert exit_weights(5, "DESC") == (asc[::-1], asc[::-1])
    assert exit_weights(5, "MIX") == (asc[::-1], asc)  # alpha descending, beta ascending
    alpha, beta = exit_weights(3, "UNIF")
    assert alpha == beta == [1 / 3] * 3
    assert exit_weights(3, "asc")[0] == [0.1667, 0.3333, 0.5]
    with pytest.raises(ConfigError):
        exit_weights(3, "RANDOM")


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="names"):
        FinetuneConfig(select="named")
    with pytest.raises(ConfigError, match="eta_min"):
        FinetuneConfig(eta_min=1.0)
    cfg = FinetuneConfig()
    assert cfg.optimizer_for("single", early_exit_supernet=False) == ("sgd", 1e-4)
    assert cfg.optimizer_for("single", early_exit_supernet=True) == ("adamw", 1e-4)
    assert cfg.optimizer_for("multi_exit", early_exit_supernet=True) == ("adamw", 1e-4)


# ----------------------------------------------------------------------------- the protocol
def test_early_stopping_on_validation_picks_best_epoch_and_step2_reuses_it(monkeypatch):
    """Scripted validation curve: loss best at epoch 1, top-1 best at epoch 2, patience 2.

    Step 1 must stop after epoch 3, E* must be 2, step 2 must train exactly 2 epochs on train ∪ val,
    and the test split must be evaluated only after all training (once per model).
    """
    val_script = {0: (0.10, 2.0), 1: (0.30, 1.0), 2: (0.50, 1.1), 3: (0.40, 1.2), 4: (0.9, 0.1)}
    events: list[tuple] = []
    n_val = {"count": 0}

    def spy_evaluate(model, batches, objective, split, channels_last=False):
        events.append(("eval", split))
        if split == "val":
            top1, loss = val_script[n_val["count"]]
            n_val["count"] += 1
            return EvalResult("val", top1, loss, 16)
        return loop.evaluate(model, batches, objective, split, channels_last)

    real_train = loop.train_epoch

    def spy_train(model, batches, *a, **k):
        events.append(("train", len(batches)))
        return real_train(model, batches, *a, **k)

    monkeypatch.setattr(loop, "train_epoch", spy_train)
    data = TensorData()
    cfg = FinetuneConfig(max_epochs=10, patience=2, lr=0.01, channels_last=False)
    ft = TwoStepFinetuner(cfg, SingleExitObjective(), OptimSpec("sgd", 0.01, 5e-4), no_recalibration, evaluate=spy_evaluate)
    result = ft.run(tiny_net, data)

    assert result.e_star == 2
    assert result.epochs_run == 3 and result.stopped_early
    assert [h["val_top1"] for h in result.history] == [0.10, 0.30, 0.50, 0.40]
    step2 = [r for r in data.requests if r[0] == "train" and r[2]]
    step1 = [r for r in data.requests if r[0] == "train" and not r[2]]
    assert len(step1) == 3 and len(step2) == 2  # E* reused; step 2 on train ∪ val
    last_train = max(i for i, e in enumerate(events) if e[0] == "train")
    test_calls = [i for i, e in enumerate(events) if e == ("eval", "test")]
    assert len(test_calls) == 2 and min(test_calls) > last_train  # final + inherited, after all training
    assert all(e != ("eval", "test") for e in events[: last_train + 1])
    assert set(result.before) == {"val", "test"} and set(result.after) == {"test"}


def test_test_split_is_evaluated_exactly_once_without_before(monkeypatch):
    splits: list[str] = []

    def spy(model, batches, objective, split, channels_last=False):
        splits.append(split)
        return loop.evaluate(model, batches, objective, split, channels_last)

    cfg = FinetuneConfig(max_epochs=2, patience=5, lr=0.01, evaluate_before=False, channels_last=False)
    ft = TwoStepFinetuner(cfg, SingleExitObjective(), OptimSpec("sgd", 0.01, 5e-4), no_recalibration, evaluate=spy)
    result = ft.run(tiny_net, TensorData())
    assert splits.count("test") == 1 and splits[-1] == "test"
    assert splits.count("val") == 3  # epoch 0 + 2 epochs
    assert result.e_star == int(np.argmax([h["val_top1"] for h in result.history]))


def test_step2_starts_again_from_inherited_weights():
    built: list[nn.Module] = []
    snapshots: list[dict] = []

    def build():
        built.append(tiny_net())
        snapshots.append({k: v.clone() for k, v in built[-1].state_dict().items()})
        return built[-1]

    cfg = FinetuneConfig(max_epochs=1, patience=1, lr=0.05, channels_last=False, evaluate_before=False)
    ft = TwoStepFinetuner(cfg, SingleExitObjective(), OptimSpec("sgd", 0.05, 0.0), no_recalibration)
    result = ft.run(build, TensorData())
    assert len(built) == 2 and built[0] is not built[1] and result.model is built[1]
    # both steps started from the same inherited weights; step 1's copy was trained, not reused
    assert all(torch.equal(snapshots[0][k], snapshots[1][k]) for k in snapshots[0])
    assert not torch.equal(built[0][0].weight, snapshots[0]["0.weight"])


def test_cosine_schedule_floors_at_eta_min_and_matches_across_steps():
    from natv2.finetune.loop import CosineFloor

    s = CosineFloor(1e-4, 1e-8, period_epochs=4)
    assert s.at(0, 0, 10) == pytest.approx(1e-4)
    assert s.at(4, 0, 10) == pytest.approx(1e-8)
    assert s.at(9, 3, 10) == pytest.approx(1e-8)  # held after the period
    # same fractional epoch, different batches per epoch (step 1 train vs step 2 train ∪ val)
    assert s.at(2, 5, 10) == pytest.approx(s.at(2, 6, 12))


# ----------------------------------------------------------------------------- multi-exit (AEP)
def test_multi_exit_costs_equal_hook_counter_and_grow(ee_supernet):
    cfg = ee_config(nd=3, seed=1)
    model = builder(ee_supernet, cfg, "multi_exit")()
    assert isinstance(model, MultiExitEnsemble) and model.exits == (1, 2, 3)
    multi = subnet_cost("ofav2_ee_b", N_CLASSES, cfg, "multi_exit")
    assert multi.params == count_params(model)
    assert multi.macs == count_macs(model, cfg.r)
    single_model = builder(ee_supernet, cfg, "single")()
    single = subnet_cost("ofav2_ee_b", N_CLASSES, cfg, "single")
    assert single.params == count_params(single_model) and single.macs == count_macs(single_model, cfg.r)
    extra_heads = sum(count_params(model.body.exits[str(k)]) for k in (1, 2))
    assert multi.params - single.params == extra_heads > 0
    assert multi.macs > single.macs


def test_multi_exit_output_is_weighted_sum_of_supernet_exits(ee_supernet):
    cfg = ee_config(nd=3, seed=2)
    model = builder(ee_supernet, cfg, "multi_exit", ordering="ASC")().eval()
    ee_supernet.set_active_subnet(cfg)
    ee_supernet.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        outs = ee_supernet(x, exits=[1, 2, 3])
        _, beta = exit_weights(3, "ASC")
        beta = [b / sum(beta) for b in beta]
        expected = sum(b * o for b, o in zip(beta, outs))
        assert torch.allclose(model(x), expected, atol=1e-5)
        loss, logits = MultiExitObjective([0.2, 0.3, 0.5])(model, x, torch.tensor([0, 1]))
    assert math.isfinite(float(loss)) and torch.allclose(logits, expected, atol=1e-5)


# ----------------------------------------------------------------------------- selection
def _archive(tmp_path):
    entries = [
        {"config": {**ee_config(2, s).to_dict()}, "acc": acc, "params": p, "macs": m, "iteration": it}
        for s, (acc, p, m, it) in enumerate([(0.5, 10, 100, 0), (0.6, 20, 200, 1), (0.55, 30, 300, 2), (0.7, 40, 50, 2)])
    ]
    path = tmp_path / "archive.json"
    path.write_text(json.dumps({"archive": entries}))
    return path, entries


def test_selection_front_named_and_errors(tmp_path):
    path, entries = _archive(tmp_path)
    front = select_subnets("front", archive=path)
    # entry 2 (0.55, 30, 300) is dominated by entry 3 (0.7, 40, 50)? no: 40 > 30 params. By entry 1? 0.6>0.55, 20<30, 200<300: yes.
    assert [c.index for c in front] == [3, 1, 0]  # most accurate first
    assert front[0].iteration == 2 and front[0].objectives == {"params": 40.0, "macs": 50.0}
    named = select_subnets("named", archive=path, names=["2", front[0].name])
    assert [c.index for c in named] == [2, 3]
    with pytest.raises(ConfigError, match="matches no subnet"):
        select_subnets("named", archive=path, names=["zzzz"])
    with pytest.raises(RunDirError, match="no search results"):
        select_subnets("front", run_dir=tmp_path / "empty")


def test_non_dominated_keeps_ties():
    cfg = ee_config(2)
    a = Candidate(cfg, 0, 0.5, None, {"params": 1.0})
    b = Candidate(cfg, 1, 0.5, None, {"params": 1.0})
    c = Candidate(cfg, 2, 0.4, None, {"params": 2.0})
    assert [x.index for x in non_dominated([a, b, c])] == [0, 1]


# ----------------------------------------------------------------------------- runner: real supernet, resume
def test_runner_finetunes_saves_and_resumes(tmp_path, ee_supernet):
    from natv2 import load_model

    cands = [Candidate(ee_config(2, seed=5), 0, 0.5), Candidate(ee_config(1, seed=6), 1, 0.4)]
    cfg = FinetuneConfig(max_epochs=1, patience=1, variants=("single", "multi_exit"), channels_last=False)
    data = TensorData(n_train=16, n_val=8, n_test=8)
    runner = FinetuneRunner(cfg, ee_supernet, lambda r: data, tmp_path / "models", seed=0,
                            source={"run_dir": "x", "iteration": 3})
    summary = runner.run(cands)
    names = [s["name"] for s in summary["subnets"]]
    assert names == [cands[0].name, cands[0].name + "-aep", cands[1].name]
    assert summary["skipped"] == [{"name": cands[1].name, "variant": "multi_exit", "reason": "needs an early exit nd >= 2 (nd=1)"}]
    aep = summary["subnets"][1]
    single = summary["subnets"][0]
    assert aep["params"] > single["params"] and aep["exits"] == [1, 2]
    for s in summary["subnets"]:
        assert {"val", "test"} <= set(s["before"]) and "test" in s["after"]
        assert 0.0 <= s["after"]["test"]["top1"] <= 1.0 and s["source"]["iteration"] == 3
    saved = json.loads((tmp_path / "models" / "finetune.json").read_text())
    assert len(saved["subnets"]) == 3

    # the saved fine-tuned weights rebuild to the model the protocol evaluated
    model = load_model(tmp_path / "models" / aep["name"] / "finetuned")
    assert isinstance(model, MultiExitEnsemble)
    x = data.test[0][:4]
    with torch.no_grad():
        acc = (model(data.test[0]).argmax(1) == data.test[1]).float().mean().item()
    assert acc == pytest.approx(aep["after"]["test"]["top1"])
    assert model(x).shape == (4, N_CLASSES)

    # resume: nothing is rebuilt or retrained
    def refuse(*a, **k):
        raise AssertionError("a finished subnet was fine-tuned again")

    again = FinetuneRunner(cfg, ee_supernet, refuse, tmp_path / "models", seed=0)
    again.run_job = refuse
    assert [s["name"] for s in again.run(cands)["subnets"]] == names

    # a later invocation choosing fewer subnets keeps the earlier ones in the shared summary
    later = again.run(cands[1:])
    assert later["selected"] == [cands[1].name]
    assert sorted(s["name"] for s in later["subnets"]) == sorted(names) and later["subnets"][0]["name"] == cands[1].name
    assert all("history" not in s for s in later["subnets"])


def test_recalibration_happens_before_the_inherited_evaluation(ee_supernet):
    cfg_s = ee_config(2, seed=8)
    data = TensorData(n_train=16, n_val=8, n_test=8)
    seen = []

    def recal(model, batches):
        seen.append(len(batches))
        return recalibrate_bn(model, batches, inplace=True)

    cfg = FinetuneConfig(max_epochs=1, patience=1, channels_last=False, evaluate_before=False)
    ft = TwoStepFinetuner(cfg, SingleExitObjective(), OptimSpec("adamw", 1e-4, 0.01), recal)
    ft.run(builder(ee_supernet, cfg_s, "single"), data)
    assert seen == [1, 1]  # step 1 and step 2 both recalibrate their fresh copy

    # the order, watched: each inherited-weights evaluation (epoch-0 validation, the inherited test copy)
    # sees exactly the BN statistics the recalibration of that fresh copy produced
    def bn_stats(model):
        return torch.cat([t.detach().flatten().clone() for m in model.modules()
                          if isinstance(m, nn.modules.batchnorm._BatchNorm) for t in (m.running_mean, m.running_var)])

    events = []

    def recal_watched(model, batches):
        before = bn_stats(model)
        out = recalibrate_bn(model, batches, inplace=True)
        assert not torch.equal(before, bn_stats(out))  # recalibration really changes the statistics
        events.append(("recal", id(out), bn_stats(out)))
        return out

    def eval_watched(model, batches, objective, split, channels_last):
        events.append(("eval", split, id(model), bn_stats(model)))
        return loop.evaluate(model, batches, objective, split=split, channels_last=channels_last)

    cfg = FinetuneConfig(max_epochs=1, patience=1, channels_last=False, evaluate_before=True)
    ft = TwoStepFinetuner(cfg, SingleExitObjective(), OptimSpec("adamw", 1e-4, 0.01), recal_watched, evaluate=eval_watched)
    ft.run(builder(ee_supernet, cfg_s, "single"), data)
    kinds = [e[0] if e[0] == "recal" else f"eval:{e[1]}" for e in events]
    assert kinds == ["recal", "eval:val", "eval:val", "recal", "eval:test", "eval:test"]
    recal1, epoch0, recal2, inherited_test = events[0], events[1], events[3], events[5]
    assert epoch0[2] == recal1[1] and torch.equal(epoch0[3], recal1[2])  # same model, recalibrated statistics
    assert torch.equal(inherited_test[3], recal2[2]) and inherited_test[2] != events[4][2]  # the untouched copy
