"""INT8 export: every supernet family's subnets (single- and multi-exit) quantize and run in onnxruntime,
a trained model's INT8 predictions agree with its float ones, calibration never sees a test image, and a
float-only, renamed or damaged file passed where an INT8 model is expected is refused in one paragraph."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F

import natv2
from natv2.data import DataConfig, load_dataset
from natv2.data.augment import make_eval_transform
from natv2.data.loaders import EvalLoader
from natv2.data.splits import DatasetSplits, ImageSplit
from natv2.errors import CheckpointError
from natv2.export import ExportConfig, export_model
from natv2.export.int8_data import calibration_split, int8_data
from natv2.export.metadata import model_metadata
from natv2.export.predict import open_model
from natv2.export.preprocessing import dataset_metadata
from natv2.export.quantized import export_int8, int8_done
from natv2.finetune.build import builder
from natv2.space import SubnetConfig
from natv2.supernets import create, list_supernets, recalibrate_bn

torch.set_num_threads(1)
RES = 16
# Float parity is test_export_all's subject; these random 16 px models have logits in the hundreds, where float32
# rounding alone reaches a few 1e-4 of relative difference, so the float files get a looser bound here.
CFG = ExportConfig(formats=("onnx",), latency=False, int8=True, int8_calibration_images=64, int8_val_images=0,
                   int8_latency_batches=(1, 8), latency_runs=3, latency_warmup=1, tolerance=1e-3)
AGREEMENT = 0.9  # a trained model's INT8 file picks the float file's top class on at least 90 % of the test split
CASES = [(n, "single") for n in list_supernets()] + [(n, "multi_exit") for n in list_supernets() if "_ee_" in n]
DEFAULT_TIER = {("ofa_mbv3", "single"), ("ofav2_ee_p", "multi_exit")}
PARAMS = [pytest.param(n, v, id=f"{n}-{v}", marks=() if (n, v) in DEFAULT_TIER else pytest.mark.slow) for n, v in CASES]


@pytest.fixture(scope="module")
def digits():
    cfg = DataConfig(name="digits", val_size=200, train_subset=None)
    return load_dataset(cfg), cfg


def _export(model: torch.nn.Module, cfg: SubnetConfig, name: str, variant: str, folder, splits, data_cfg) -> dict:
    meta = model_metadata(name=name, subnet=cfg.to_dict(), supernet=name, n_classes=10, resolution=RES, variant=variant,
                          outputs=[], params=1, macs=1, accuracy=None, latency=None, source={"weights": "test"},
                          extra=dataset_metadata(data_cfg, splits))
    export_model(model, folder, meta, CFG)
    return export_int8(folder, CFG, int8_data(splits, data_cfg, CFG, seed=0))


def _model(name: str, variant: str) -> tuple[torch.nn.Module, SubnetConfig]:
    torch.manual_seed(0)
    supernet = create(name, 10, r=[RES])
    cfg = supernet.space.sample(np.random.default_rng(3))
    if supernet.space.nd is not None:
        cfg = SubnetConfig.from_dict({**cfg.to_dict(), "nd": max(supernet.space.nd)})
    calib = [torch.randn(16, 3, RES, RES, generator=torch.Generator().manual_seed(1))]
    return recalibrate_bn(builder(supernet, cfg, variant, ordering="ASC")(), calib, inplace=True).eval(), cfg


@pytest.mark.parametrize("name,variant", PARAMS)
def test_every_family_exports_an_int8_model_that_runs_in_onnxruntime(tmp_path, digits, name, variant):
    splits, data_cfg = digits
    model, cfg = _model(name, variant)
    record = _export(model, cfg, name, variant, tmp_path, splits, data_cfg)
    path = tmp_path / record["file"]
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops and int8_done(tmp_path)
    assert record["operators"]["int8"].get("QLinearConv", 0) > 0  # onnxruntime runs the convolutions in integers
    float_outputs = [o.name for o in onnx.load(str(tmp_path / "model.onnx")).graph.output]
    assert [o.name for o in onnx.load(str(path)).graph.output] == float_outputs  # every exit and the ensemble
    x = torch.randn(5, 3, RES, RES)
    logits = open_model(tmp_path, "int8").run(x)
    assert logits.shape == (5, 10) and np.isfinite(logits).all()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["files"]["int8"] == record["file"] and meta["int8"]["weights"] in ("per_channel", "per_tensor")
    assert set(meta["int8"]["latency"]["ms"]["int8"]) == {"1", "8"} and meta["int8"]["calibration"]["split"] == "train"


def _train(splits, data_cfg) -> tuple[torch.nn.Module, SubnetConfig]:
    """A small subnet trained for a few epochs on digits (~90 % test top-1): a model whose classes are decided."""
    torch.manual_seed(0)
    supernet = create("ofa_mbv3", 10, r=[RES])
    cfg = supernet.space.sample(np.random.default_rng(0))
    model = builder(supernet, cfg, "single")().train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    loader = EvalLoader(splits.train, make_eval_transform(data_cfg, splits.mean, splits.std, splits.image_size), RES, 32)
    for _ in range(6):
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return model.eval(), cfg


def test_a_trained_models_int8_predictions_agree_with_its_float_ones(tmp_path, digits):
    splits, data_cfg = digits
    model, cfg = _train(splits, data_cfg)
    record = _export(model, cfg, "trained", "single", tmp_path, splits, data_cfg)
    acc = record["accuracy"]
    assert acc["split"] == "test" and acc["n"] == len(splits.test)
    assert acc["top1_float"] > 0.8, "the model must be trained for the agreement to mean anything"
    assert acc["agreement"] >= AGREEMENT, acc
    assert abs(acc["top1_int8"] - acc["top1_float"]) <= 1 - AGREEMENT
    # the record is what the files give: recompute the agreement on the first test batch
    transform = make_eval_transform(data_cfg, splits.mean, splits.std, splits.image_size)
    x, _ = next(iter(EvalLoader(splits.test, transform, RES, 64)))
    f, q = open_model(tmp_path, "onnx").run(x).argmax(1), open_model(tmp_path, "int8").run(x).argmax(1)
    assert np.mean(f == q) >= AGREEMENT - 0.05


def _marked(n: int, marker: int) -> ImageSplit:
    images = torch.zeros(n, 3, 8, 8, dtype=torch.uint8)
    images[:, 0, 0, 0] = marker
    images[:, 1, 0, 0] = torch.arange(n, dtype=torch.uint8)
    return ImageSplit(images, torch.arange(n) % 10)


def test_calibration_draws_training_images_only():
    splits = DatasetSplits("marked", _marked(120, 1), _marked(40, 2), _marked(50, 3), [str(c) for c in range(10)],
                           (0.5,) * 3, (0.25,) * 3, "test", "")
    for n, seed in ((64, 0), (64, 1), (500, 0)):
        calib = calibration_split(splits, n, seed)
        assert len(calib) == min(n, 120) and set(calib.images[:, 0, 0, 0].tolist()) == {1}
    data = int8_data(splits, DataConfig(name="digits"), CFG, seed=0)
    assert set(data.calibration.images[:, 0, 0, 0].tolist()) == {1} and data.record["calibration"]["split"] == "train"
    assert set(data.report.images[:, 0, 0, 0].tolist()) == {3} and set(data.choice.images[:, 0, 0, 0].tolist()) == {2}
    assert calibration_split(splits, 64, 0).images.tolist() != calibration_split(splits, 64, 1).images.tolist()


def test_a_float_renamed_or_damaged_int8_model_is_refused_clearly(tmp_path, digits):
    splits, data_cfg = digits
    model, cfg = _model("ofa_mbv3", "single")
    meta = model_metadata(name="m", subnet=cfg.to_dict(), supernet="ofa_mbv3", n_classes=10, resolution=RES,
                          variant="single", outputs=[], params=1, macs=1, accuracy=None, latency=None, source={},
                          extra=dataset_metadata(data_cfg, splits))
    export_model(model, tmp_path, meta, CFG)
    with pytest.raises(CheckpointError, match="no int8 model in folder") as err:
        open_model(tmp_path, "int8")
    assert "export.int8=true" in err.value.fix
    renamed = tmp_path / "renamed.int8.onnx"
    renamed.write_bytes((tmp_path / "model.onnx").read_bytes())
    with pytest.raises(CheckpointError, match="float model, not an INT8 one"):
        natv2.predict(renamed, [])
    damaged = tmp_path / "damaged.int8.onnx"
    damaged.write_bytes((tmp_path / "model.onnx").read_bytes()[:300])
    with pytest.raises(CheckpointError, match="not an ONNX model"):
        open_model(damaged)


def test_int8_needs_the_float_onnx_file():
    from natv2.config.convert import FieldError

    with pytest.raises(FieldError, match="add onnx to export.formats"):
        ExportConfig(int8=True, formats=("safetensors", "torchscript"))


def test_a_float_onnx_written_before_conv_export_is_exported_again(tmp_path, digits):
    """natv2 once wrote 1x1 convolutions as MatMul between transposes, which onnxruntime neither fuses with BN nor
    quantizes well: such a file is recognised, and the INT8 export writes the float files again first."""
    from onnx import TensorProto, helper

    from natv2.runtime.int8 import quantizable_graph

    splits, data_cfg = digits
    model, cfg = _model("ofa_mbv3", "single")
    _export(model, cfg, "m", "single", tmp_path, splits, data_cfg)
    assert quantizable_graph(tmp_path / "model.onnx")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4], [0.0] * 16)
    old = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [w]))
    onnx.save(old, str(tmp_path / "old.onnx"))
    assert not quantizable_graph(tmp_path / "old.onnx")
