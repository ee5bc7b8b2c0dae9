"""Export: safetensors + JSON round trip via natv2.load_model, TorchScript and ONNX parity (dynamic
batch, onnxruntime), refusal above the tolerance, metadata in every file, the run-directory stage."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from safetensors import safe_open

import natv2
from natv2.errors import NatError
from natv2.export import ExportConfig, export_model
from natv2.export.formats import OnnxExporter
from natv2.export.metadata import model_metadata
from natv2.finetune.build import builder
from natv2.finetune.multi_exit import MultiExitEnsemble
from natv2.space import SubnetConfig
from natv2.supernets import create, recalibrate_bn

torch.set_num_threads(1)
N_CLASSES = 5
FAST = ExportConfig(latency_runs=3, latency_warmup=1)


def _config(nd: int, seed: int) -> SubnetConfig:
    space = create("ofav2_ee_b", N_CLASSES, r=[32]).space
    return SubnetConfig.from_dict({**space.sample(np.random.default_rng(seed)).to_dict(), "nd": nd})


def _metadata(name: str, cfg: SubnetConfig, variant: str) -> dict:
    return model_metadata(
        name=name, subnet=cfg.to_dict(), supernet="ofav2_ee_b", n_classes=N_CLASSES, resolution=cfg.r, variant=variant,
        outputs=[], params=123, macs=456, accuracy={"top1": 0.5, "split": "test", "weights": "finetuned"},
        latency={"median_ms": 1.0, "device": "cpu", "batch_size": 1, "threads": 1},
        source={"run_dir": "runs/x", "iteration": 7, "weights": "finetuned"},
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One single-exit and one multi-exit model, BN recalibrated (non-trivial outputs), exported once."""
    torch.manual_seed(0)
    supernet = create("ofav2_ee_b", N_CLASSES, r=[32])
    calib = [torch.randn(16, 3, 32, 32) * 2 + 0.5]
    out = {}
    for variant, nd in (("single", 3), ("multi_exit", 3)):
        cfg = _config(nd, seed=1)
        model = recalibrate_bn(builder(supernet, cfg, variant, ordering="ASC")(), calib, inplace=True).eval()
        folder = tmp_path_factory.mktemp(variant)
        record = export_model(model, folder, _metadata(variant, cfg, variant), FAST)
        out[variant] = (model, folder, record, cfg)
    return out


def _x(batch: int, seed: int = 5) -> torch.Tensor:
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("variant", ["single", "multi_exit"])
def test_load_model_round_trip_is_exact(exported, variant):
    model, folder, _, _ = exported[variant]
    for path in (folder, folder / "model.safetensors", folder / "model.json"):
        loaded = natv2.load_model(path)
        assert type(loaded) is type(model) and not loaded.training
        with torch.no_grad():
            x = _x(3)
            assert (loaded(x) - model(x)).abs().max().item() <= 1e-6
            assert model(x).abs().max().item() > 1e-3  # the comparison is not between zeros
            if variant == "multi_exit":
                for a, b in zip(loaded.forward_exits(x), model.forward_exits(x)):
                    assert (a - b).abs().max().item() <= 1e-6
                assert loaded.exits == model.exits and torch.allclose(loaded.beta, model.beta)


@pytest.mark.parametrize("variant", ["single", "multi_exit"])
def test_torchscript_and_onnx_match_with_dynamic_batch(exported, variant):
    model, folder, record, _ = exported[variant]
    assert set(record.parity) == {"safetensors", "torchscript", "onnx"}
    assert set(record.parity["onnx"]) == {"1", "3"} and record.max_abs_diff <= 1e-4
    scripted = torch.jit.load(str(folder / "model.pt"))
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch"
    names = [o.name for o in session.get_outputs()]
    for batch in (1, 3):
        x = _x(batch, seed=11)
        with torch.no_grad():
            if isinstance(model, MultiExitEnsemble):
                expected = [*model.forward_exits(x), model(x)]
            else:
                expected = [model(x)]
            ts = scripted(x)
        ts = list(ts) if isinstance(ts, (tuple, list)) else [ts]
        onnx_out = session.run(None, {"input": x.numpy()})
        assert len(ts) == len(onnx_out) == len(expected)
        for e, t, o in zip(expected, ts, onnx_out):
            assert o.shape == (batch, N_CLASSES)
            assert (t - e).abs().max().item() <= 1e-5
            assert np.abs(o - e.numpy()).max() <= 1e-4
    if variant == "multi_exit":
        assert names == ["exit1", "exit2", "exit3", "logits"]
    else:
        assert names == ["logits"]


def test_metadata_is_beside_and_inside_every_file(exported):
    _, folder, _, cfg = exported["multi_exit"]
    meta = json.loads((folder / "meta.json").read_text())
    for key in ("config", "accuracy", "params", "macs", "latency", "source", "natv2_version", "outputs", "parity", "files"):
        assert key in meta, key
    assert meta["config"] == cfg.to_dict() and meta["accuracy"]["split"] == "test"
    assert {"device", "batch_size", "threads"} <= set(meta["latency"])
    assert meta["source"]["iteration"] == 7 and meta["natv2_version"] == natv2.__version__
    assert meta["outputs"] == ["exit1", "exit2", "exit3", "logits"] and meta["exits"] == [1, 2, 3]
    assert meta["parity"]["tolerance"] == 1e-4
    with safe_open(str(folder / "model.safetensors"), "pt") as fh:
        inside = json.loads(fh.metadata()["natv2"])
    onnx_meta = {p.key: p.value for p in onnx.load(str(folder / "model.onnx")).metadata_props}
    extra = {"natv2.json": ""}
    torch.jit.load(str(folder / "model.pt"), _extra_files=extra)
    for embedded in (inside, json.loads(onnx_meta["natv2"]), json.loads(extra["natv2.json"])):
        assert embedded["config"] == cfg.to_dict() and embedded["macs"] == 456 and embedded["name"] == "multi_exit"
    assert natv2.export.read_metadata(folder)["wrapper"]["exits"] == [1, 2, 3]


def test_export_refuses_a_model_that_does_not_match(tmp_path, monkeypatch, exported):
    model, _, _, cfg = exported["single"]
    real_run = OnnxExporter.run

    def perturbed(self, path, x):
        return tuple(o + 1e-2 for o in real_run(self, path, x))

    monkeypatch.setattr(OnnxExporter, "run", perturbed)
    with pytest.raises(NatError, match="differs from the PyTorch model"):
        export_model(model, tmp_path, _metadata("bad", cfg, "single"), ExportConfig(latency=False))
    assert not (tmp_path / "model.onnx").exists() and not (tmp_path / "meta.json").exists()
    # a looser tolerance accepts the same difference and reports it
    record = export_model(model, tmp_path, _metadata("ok", cfg, "single"), ExportConfig(latency=False, tolerance=1.0))
    assert 5e-3 < record.parity["onnx"]["1"] < 2e-2 and (tmp_path / "meta.json").exists()


def test_load_model_names_a_missing_model(tmp_path):
    with pytest.raises(NatError, match="no natv2 model"):
        natv2.load_model(tmp_path)
