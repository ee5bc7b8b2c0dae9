"""`natv2 finetune` and `natv2 export` on a small run directory (digits data, real supernet at 32 px):
the stages read only the run directory, write results and models, resume, and export models that
load and match."""

from __future__ import annotations

import io
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

import natv2
from natv2.cli.main import main
from natv2.export.stage import parity_inputs
from natv2.io.rundir import RunDir
from natv2.pipeline.config import resolve_config
from natv2.space import SubnetConfig
from natv2.supernets import create, save_supernet

torch.set_num_threads(1)

SETTINGS = [
    "run.threads=1", "run.device=cpu",
    "data.name=digits", "data.val_size=200", "data.train_subset=300", "data.calib_size=64", "data.calib_batch_size=32",
    "data.eval_batch_size=200",
    "finetune.max_epochs=2", "finetune.patience=1", "finetune.batch_size=64", "finetune.max_subnets=1",
    "finetune.variants=[single,multi_exit]", "finetune.channels_last=false",
    "export.latency_runs=3", "export.latency_warmup=1", "finetune.select=front",
]


def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory as the search leaves it: config.yaml, the final supernet, non_dominated.json."""
    root = tmp_path_factory.mktemp("run") / "r"
    cfg = resolve_config(preset="quickstart", overrides=SETTINGS)
    RunDir.open(root, cfg).close()
    torch.manual_seed(0)
    supernet = create("ofav2_ee_b", 10, r=[32])
    save_supernet(supernet, root / "search" / "supernet", {"note": "test"})
    rng = np.random.default_rng(0)
    entries = []
    for i, nd in enumerate((3, 5, 2)):
        c = SubnetConfig.from_dict({**supernet.space.sample(rng).to_dict(), "nd": nd})
        entries.append({"config": c.to_dict(), "objectives": {"err": 0.5 + 0.1 * i, "params": 1e5 * (3 - i)},
                        "acc": 0.5 - 0.1 * i, "iteration": i, "evaluated": i})
    (root / "search").mkdir(exist_ok=True)
    (root / "search" / "non_dominated.json").write_text(json.dumps({"objectives": ["err", "params"], "entries": entries}))
    return root


def test_finetune_then_export_from_the_run_directory(run_dir):
    rc, out = _cli("finetune", str(run_dir))
    assert rc == 0, out
    summary = json.loads((run_dir / "models" / "finetune.json").read_text())
    assert [s["variant"] for s in summary["subnets"]] == ["single", "multi_exit"]
    assert summary["subnets"][0]["search"]["accuracy"] == 0.5  # the most accurate subnet of the front
    for s in summary["subnets"]:
        assert s["before"]["test"]["n"] == s["after"]["test"]["n"] == 359  # digits' fixed 20 % test split
        assert 0 <= s["e_star"] <= 2 and s["search"]["iteration"] in (0, 1)
    events = (run_dir / "events.jsonl").read_text()
    assert '"stage":"finetune","event":"done"' in events

    rc, out = _cli("finetune", str(run_dir))
    assert rc == 0 and out.count("already fine-tuned") == 2, out

    rc, out = _cli("export", str(run_dir))
    assert rc == 0, out
    exported = json.loads((run_dir / "models" / "export.json").read_text())
    assert len(exported["models"]) == 2
    x = parity_inputs(resolve_config(config_file=run_dir / "config.yaml"), 3, print)(32)  # real validation images
    assert x.shape == (3, 3, 32, 32)
    for m in exported["models"]:
        folder = run_dir / "models" / m["folder"]
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["source"]["run_id"] == "r" and meta["accuracy"]["split"] == "test"
        assert meta["latency"]["batch_size"] == 1 and meta["latency"]["threads"] == 1
        assert meta["parity"]["inputs"] == "real images"
        model = natv2.load_model(folder)
        with torch.no_grad():
            want = model(x).numpy()
        sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        got = sess.run(["logits"], {"input": x.numpy()})[0]
        assert np.abs(got - want).max() / max(1.0, np.abs(want).max()) <= 1e-4
        assert torch.equal(model(x), natv2.load_model(folder / "finetuned")(x))  # exported = fine-tuned weights

    rc, out = _cli("export", str(run_dir))
    assert rc == 0 and out.count("already exported") == 2, out

    # inherited weights (BN recalibrated), ONNX only; export.json then lists all three models
    rc, out = _cli("export", str(run_dir), "--force", "--set", "export.source=inherited", "--set", "export.formats=[onnx]")
    assert rc == 0, out
    name = summary["subnets"][0]["name"] + "-inherited"
    meta = json.loads((run_dir / "models" / name / "meta.json").read_text())
    assert meta["accuracy"]["split"] == "val" and meta["source"]["weights"] == "inherited"
    assert set(meta["files"]) == {"safetensors", "json", "onnx"}
    listed = json.loads((run_dir / "models" / "export.json").read_text())["models"]
    assert sorted(m["folder"] for m in listed) == sorted([name] + [m["folder"] for m in exported["models"]])


def test_later_stages_refuse_a_folder_that_is_not_a_run(tmp_path):
    rc, out = _cli("finetune", str(tmp_path / "nothing"))
    assert rc == 2 and "not a natv2 run directory" in out
    assert not (tmp_path / "nothing").exists()
