"""The supernet trainer on the real OFAv2 early-exit supernet at 16-24 px with synthetic data:
exact resume, divergence handling, AEP on every exit, teachers, files written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _train_fakes import SyntheticData  # noqa: E402

from natv2.supernets.registry import create  # noqa: E402
from natv2.train.config import TrainConfig  # noqa: E402
from natv2.train.steps import TrainingDivergedError  # noqa: E402
from natv2.train.trainer import SupernetTrainer  # noqa: E402

torch.set_num_threads(1)

RES = [16, 24]


def _net(name: str = "ofav2_ee_b", n_classes: int = 4):
    torch.manual_seed(0)
    return create(name, n_classes, r=RES)


def _cfg(**kw) -> TrainConfig:
    base = dict(
        supernet="ofav2_ee_b",
        keep_phase_checkpoints=True,  # these tests read the per-phase files afterwards
        only_phases=("full", "kernel"),
        phase_overrides={"full": {"epochs": 1}, "kernel": {"epochs": 2, "warmup_epochs": 1}},
        steps_per_epoch=2,
        val_random=1,
        val_per_dim=False,
        val_resolutions="max",
        teacher="progressive",
        teacher_bn="eval",
        channels_last=True,  # exercise the NHWC path (the default is off)
    )
    base.update(kw)
    return TrainConfig(**base)


class Crash(Exception):
    pass


def _crash_at(phase: str, epoch: int):
    def sink(kind, payload):
        if kind == "epoch_end" and payload["phase"] == phase and payload["epoch"] == epoch:
            raise Crash()

    return sink


def _weights(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def test_resume_mid_phase_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    data = SyntheticData(n=32, batch_size=8, size=24)
    ref_net = _net()
    ref = SupernetTrainer(_cfg(), ref_net, data, tmp_path / "a", seed=3, progress=False).run()
    assert [p.name for p in ref.phases] == ["full", "kernel"]
    want = _weights(ref_net)

    with pytest.raises(Crash):
        SupernetTrainer(_cfg(), _net(), data, tmp_path / "b", seed=3, progress=False,
                        events=_crash_at("kernel", 1)).run()
    state = json.loads((tmp_path / "b/checkpoints/state.json").read_text())
    assert (state["phase"], state["epochs_done"], state["phase_complete"]) == ("kernel", 2, False)
    torch.manual_seed(123)  # resume must not depend on the global RNG or the fresh init
    resumed_net = create("ofav2_ee_b", 4, r=RES)
    SupernetTrainer(_cfg(), resumed_net, data, tmp_path / "b", seed=3, progress=False).run(resume=True)
    got = _weights(resumed_net)
    assert got.keys() == want.keys()
    diff = [k for k in want if not torch.equal(want[k], got[k])]
    assert not diff, f"resumed weights differ in {diff[:5]}"
    # the metrics log holds each epoch once, as in the uninterrupted run
    lines = [json.loads(s) for s in (tmp_path / "b/metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["epoch"]) for r in lines] == [("full", 0), ("kernel", 0), ("kernel", 1), ("kernel", 2)]
    ref_lines = [json.loads(s) for s in (tmp_path / "a/metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in lines] == [r["train_loss"] for r in ref_lines]


def test_resume_refuses_a_different_setup_and_fresh_start_refuses_existing_checkpoint(tmp_path):
    data = SyntheticData(n=16, batch_size=8, size=24)
    cfg = _cfg(only_phases=("full",), steps_per_epoch=1)
    SupernetTrainer(cfg, _net(), data, tmp_path, seed=0, progress=False).run()
    from natv2.errors import CheckpointError

    with pytest.raises(CheckpointError, match="--resume"):
        SupernetTrainer(cfg, _net(), data, tmp_path, seed=0, progress=False).run()
    with pytest.raises(CheckpointError, match="different training setup"):
        SupernetTrainer(cfg, _net(), data, tmp_path, seed=1, progress=False).run(resume=True)


class _NaNAfter(SyntheticData):
    """Yields NaN images from epoch `bad_epoch` (counted in calls to train_batches) on."""

    def __init__(self, bad_call: int, **kw):
        super().__init__(**kw)
        self.calls, self.bad_call = 0, bad_call

    def train_batches(self, *a, **kw):
        self.calls += 1
        for x, y in super().train_batches(*a, **kw):
            yield (x * float("nan") if self.calls >= self.bad_call else x), y


def test_diverging_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    data = _NaNAfter(bad_call=2, n=16, batch_size=8, size=24)
    cfg = _cfg(only_phases=("full",), phase_overrides={"full": {"epochs": 3}}, steps_per_epoch=1)
    net = _net()
    with pytest.raises(TrainingDivergedError, match="phase 'full', epoch 2") as info:
        SupernetTrainer(cfg, net, data, tmp_path, seed=0, progress=False).run()
    assert "last good checkpoint is kept" in str(info.value) and info.value.fix
    state = json.loads((tmp_path / "checkpoints/state.json").read_text())
    assert state["epochs_done"] == 1
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "checkpoints" / state["model_file"]))
    assert all(torch.isfinite(v).all() for v in saved.values() if v.is_floating_point())


def test_full_phase_trains_every_exit_with_the_aep_loss_and_writes_outputs(tmp_path):
    data = SyntheticData(n=16, batch_size=8, size=24)
    net = _net()
    before = {k: v.clone() for k, v in net.exits.state_dict().items()}
    cfg = _cfg(only_phases=("full",), steps_per_epoch=2, phase_eval_split="test", phase_eval_random=2)
    SupernetTrainer(cfg, net, data, tmp_path, seed=0, progress=False,
                    supernet_meta={"name": "ofav2_ee_b"}).run()
    after = net.exits.state_dict()
    for k in range(1, 6):
        key = f"{k}.classifier.weight"
        assert not torch.equal(before[key], after[key]), f"exit {k} was not trained"
    for name in ("supernet.safetensors", "supernet.json", "metrics.jsonl", "val_accuracy.png",
                 "checkpoints/phases/full/best.safetensors", "checkpoints/phases/full/best.json"):
        assert (tmp_path / name).exists(), name
    doc = json.loads((tmp_path / "supernet.json").read_text())
    assert doc["arch"]["name"] == "ofav2_ee_b" and doc["meta"]["phases"][0]["name"] == "full"
    from natv2.supernets import load_supernet

    loaded = load_supernet(tmp_path / "supernet")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))
    rec = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert set(rec["val"]) == {"max@24"} and 0 <= rec["val_mean"] <= 100 and rec["images_per_s"] > 0
    ev = rec["phase_eval"]  # end-of-phase evaluation: max + min (equal here) + 2 random of the phase space
    assert ev["split"] == "test" and set(ev["acc"]) == {"max@24"} and ev["max"] == ev["acc"]["max@24"]


def test_progressive_teacher_is_the_previous_phase_best_max_net_with_bn_recalibrated(tmp_path):
    from safetensors.torch import load_file

    from natv2.supernets.bn import recalibrate_bn

    data = SyntheticData(n=16, batch_size=8, size=24)
    cfg = _cfg(phase_overrides={"full": {"epochs": 1}, "kernel": {"epochs": 1, "warmup_epochs": 0}},
               steps_per_epoch=1, channels_last=False)
    SupernetTrainer(cfg, _net(), data, tmp_path, seed=0, progress=False).run()
    teacher = load_file(str(tmp_path / "checkpoints/phases/kernel/teacher.safetensors"))

    # rebuild it by hand: best weights of `full`, maximal net with all five exits, BN recalibrated
    src = _net()
    src.load_state_dict(load_file(str(tmp_path / "checkpoints/phases/full/best.safetensors")))
    src.set_max_net()
    expected = src.extract_subnet(exits=[1, 2, 3, 4, 5])
    raw = {k: v.clone() for k, v in expected.state_dict().items()}
    recalibrate_bn(expected, data.calibration_batches(24), inplace=True)
    assert teacher.keys() == expected.state_dict().keys()
    assert sum(1 for k in teacher if k.endswith("classifier.weight")) == 5
    for k, v in expected.state_dict().items():
        assert torch.allclose(teacher[k].float(), v.float(), atol=1e-5), k
    stats = [k for k in raw if k.endswith("running_mean")]
    assert any(not torch.allclose(raw[k], teacher[k]) for k in stats)  # recalibration changed them


def test_fixed_teacher_comes_from_full_and_expand_phases_sort_channels_once(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    data = SyntheticData(n=16, batch_size=8, size=24)
    net = _net()
    sorted_stages = []
    monkeypatch.setattr(type(net), "sort_channels", lambda self, stage=0: sorted_stages.append(stage))
    cfg = _cfg(only_phases=("full", "expand_1"), teacher="fixed", steps_per_epoch=1,
               phase_overrides={"full": {"epochs": 1}, "expand_1": {"epochs": 2, "subnets_per_step": 2}})
    SupernetTrainer(cfg, net, data, tmp_path, seed=0, progress=False).run()
    assert sorted_stages == [0]
    teacher = load_file(str(tmp_path / "checkpoints/phases/expand_1/teacher.safetensors"))
    full = load_file(str(tmp_path / "checkpoints/phases/full/best.safetensors"))
    assert torch.equal(teacher["exits.5.classifier.weight"], full["exits.5.classifier.weight"])


def test_a_phase_override_caps_that_phase_steps_per_epoch_only(tmp_path, monkeypatch):
    """train.phase_overrides.<phase>.steps_per_epoch: the quickstart's short elastic phases."""
    import natv2.train.trainer as trainer_mod

    calls: list[tuple[str, int]] = []
    real = trainer_mod.run_epoch

    def counting(ec, batches, steps, *args, **kwargs):
        calls.append((current[0], steps))
        return real(ec, batches, steps, *args, **kwargs)

    current = [""]
    monkeypatch.setattr(trainer_mod, "run_epoch", counting)
    data = SyntheticData(n=32, batch_size=8, size=24)  # 4 steps per epoch
    cfg = _cfg(steps_per_epoch=None, phase_overrides={"full": {"epochs": 1, "steps_per_epoch": 1},
                                                      "kernel": {"epochs": 1, "warmup_epochs": 0}})

    def sink(kind, payload):
        if kind == "phase_start":
            current[0] = payload["phase"]

    SupernetTrainer(cfg, _net(), data, tmp_path, seed=0, progress=False, events=sink).run()
    assert calls == [("full", 1), ("kernel", 4)]
    doc = json.loads((tmp_path / "supernet.json").read_text())
    assert doc["meta"]["phases"][0]["steps_per_epoch"] == 1 and "steps_per_epoch" not in doc["meta"]["phases"][1]
