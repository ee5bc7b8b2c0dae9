"""`natv2 run` end to end on the `smoke` preset: every stage runs, every artefact is there and sound,
and running the same command again resumes (skips) instead of redoing work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

NATV2 = [sys.executable, "-m", "natv2.cli.main"]


# The smoke run's umask: not the usual 022, so that a file written 0600 (or 0644 regardless) shows.
RUN_UMASK = 0o027


def _natv2(*args: str, cwd: Path, umask: int = -1) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([*NATV2, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          umask=umask)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    work = tmp_path_factory.mktemp("pipeline")
    run_dir = work / "run"
    proc = _natv2("run", "--preset", "smoke", "--run-dir", str(run_dir), cwd=work, umask=RUN_UMASK)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return run_dir, proc


def test_every_stage_ran_and_the_output_says_where_things_are(smoke_run):
    run_dir, proc = smoke_run
    for i, stage in enumerate(["train", "search", "finetune", "export", "report"], 1):
        assert f"[{i}/5] {stage}" in proc.stdout
    assert f"report:        {run_dir / 'report' / 'index.html'}" in proc.stdout
    assert f"models:        {run_dir / 'models'}" in proc.stdout
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    done = {e["stage"] for e in events if e["event"] == "done"}
    assert {"train", "search", "finetune", "export"} <= done


def test_every_file_of_every_format_honours_the_umask(smoke_run):
    """Weights (safetensors), TorchScript, ONNX (float and INT8), JSON, YAML, HTML and figures: each is
    0666 & ~umask, and each folder 0777 & ~umask, as the user's other files are."""
    run_dir, _ = smoke_run
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    suffixes = {p.suffix for p in files}
    assert {".safetensors", ".pt", ".onnx", ".json", ".yaml", ".html", ".png"} <= suffixes, suffixes
    wrong = {str(p.relative_to(run_dir)): oct(p.stat().st_mode & 0o777) for p in files
             if p.stat().st_mode & 0o777 != 0o666 & ~RUN_UMASK}
    assert not wrong, f"files not {oct(0o666 & ~RUN_UMASK)} under umask {oct(RUN_UMASK)}: {wrong}"
    folders = [p for p in run_dir.rglob("*") if p.is_dir()]
    assert all(p.stat().st_mode & 0o777 == 0o777 & ~RUN_UMASK for p in folders)


def test_search_outputs_and_report(smoke_run):
    run_dir, _ = smoke_run
    for line in (run_dir / "train" / "metrics.jsonl").read_text().splitlines():  # accuracies are fractions
        record = json.loads(line)
        assert record["accuracy_unit"] == "fraction" and 0 <= record["val_mean"] <= 1
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "train" / "supernet.safetensors").is_file()
    for name in ("non_dominated.json", "high_tradeoff.json", "final_test.json"):
        assert (run_dir / "search" / name).is_file(), name
    assert sorted(p.name for p in (run_dir / "search").glob("iter_*")) == ["iter_000", "iter_001"]
    html = (run_dir / "report" / "index.html").read_text()
    for section in ("Supernet training", "Search", "Final models"):
        assert section in html
    assert list((run_dir / "report").rglob("*.png")), "the report has no figures"


def test_exported_models_load_and_match_in_every_format(smoke_run):
    import onnxruntime as ort

    import natv2

    run_dir, _ = smoke_run
    summary = json.loads((run_dir / "models" / "export.json").read_text())
    assert summary["models"], "nothing was exported"
    for entry in summary["models"]:
        folder = run_dir / "models" / entry["folder"]
        meta = json.loads((folder / "meta.json").read_text())
        r = int(meta["config"]["r"]) if "config" in meta else 16
        model = natv2.load_model(folder / entry["files"]["safetensors"]).eval()
        x = torch.randn(3, 3, r, r, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ref = model(x)
            scripted = torch.jit.load(str(folder / entry["files"]["torchscript"]))(x)
        assert torch.allclose(scripted, ref, atol=1e-5)
        sess = ort.InferenceSession(str(folder / entry["files"]["onnx"]), providers=["CPUExecutionProvider"])
        onnx_out = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})[0]
        assert np.abs(onnx_out - ref.numpy()).max() <= 1e-4 * max(1.0, float(ref.abs().max()))
        assert entry["accuracy"]["split"] == "test"
        assert entry["params"] == sum(p.numel() for p in model.parameters())


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}


def _stage_event_kinds(root: Path) -> set[tuple[str, str]]:
    """(stage, event) of every stage event; the run's own open/resume events differ by how often it was opened."""
    events = [json.loads(line) for line in (root / "events.jsonl").read_text().splitlines()]
    return {(e["stage"], e["event"]) for e in events if e["stage"] != "run"}


def test_stage_by_stage_leaves_what_natv2_run_leaves(smoke_run, tmp_path):
    """The per-stage commands are the pipeline restricted to one stage: same files, same event kinds."""
    run_dir, _ = smoke_run
    alone = tmp_path / "alone"
    steps = [("train-supernet", "--preset", "smoke", "--run-dir", str(alone)), ("search", str(alone)),
             ("finetune", str(alone)), ("export", str(alone)), ("report", str(alone))]
    for args in steps:
        proc = _natv2(*args, cwd=tmp_path)
        assert proc.returncode == 0, " ".join(args) + "\n" + proc.stdout[-2000:] + proc.stderr[-2000:]
    assert _tree(alone) == _tree(run_dir)
    assert _stage_event_kinds(alone) == _stage_event_kinds(run_dir)
    ours, theirs = _fingerprint(alone), _fingerprint(run_dir)
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    assert not differ, f"the stage commands computed other results than natv2 run in: {differ}"
    done = [json.loads(line)["data"] for line in (alone / "events.jsonl").read_text().splitlines()
            if '"event":"done"' in line]
    assert all("seconds" in d for d in done) and len(done) == 4  # the driver times and marks every stage


# Keys whose values are measurements of time (or of speed), which two identical computations do not share.
_TIMING_KEYS = ("second", "time", "timing", "created", "elapsed", "latency", "speedup", "wall", "eta", "per_s", "img_s",
                "started", "finished", "duration", "date", "host", "pid")


def _normal(value, run_dir: Path):
    """A JSON value with timing entries dropped and the run directory's own path (and name) written as RUN."""
    if isinstance(value, dict):
        return {k: _normal(v, run_dir) for k, v in value.items()
                if k != "ms" and not any(word in k.lower() for word in _TIMING_KEYS)}
    if isinstance(value, list):
        return [_normal(v, run_dir) for v in value]
    if isinstance(value, str):
        return "RUN" if value == run_dir.name else value.replace(str(run_dir), "RUN")
    return value


def _fingerprint(run_dir: Path) -> dict[str, object]:
    """What a run computed, file by file: every tensor of every safetensors file (hashed) and every JSON document
    (timings aside). Two runs that computed the same thing have equal fingerprints."""
    import hashlib

    from safetensors.numpy import load_file

    out: dict[str, object] = {}
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if path.suffix == ".safetensors":
            out[rel] = {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in sorted(load_file(str(path)).items())}
        elif path.suffix == ".json":
            out[rel] = _normal(json.loads(path.read_text()), run_dir)
    return out


def test_running_again_skips_finished_stages(smoke_run):
    run_dir, _ = smoke_run
    proc = _natv2("run", str(run_dir), cwd=run_dir.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for stage in ("train", "search", "finetune", "export"):
        assert f"{stage}: " in proc.stdout and "already done, skipped" in proc.stdout
    assert proc.stdout.count("already done, skipped") == 4


def _digits_test_pngs(run_dir: Path, folder: Path, n: int) -> tuple[list[str], np.ndarray, dict]:
    """The first `n` test images of the run's dataset as greyscale PNG files, and the run's own eval inputs."""
    from PIL import Image

    from natv2.data import load_dataset
    from natv2.data.augment import make_eval_transform
    from natv2.pipeline.config import resolve_config

    config = resolve_config(config_file=run_dir / "config.yaml")
    splits = load_dataset(config.data)
    paths = []
    for i in range(n):
        path = folder / f"test_{i:03d}.png"
        Image.fromarray(splits.test.images[i, 0].numpy(), mode="L").save(path)
        paths.append(str(path))
    transform = make_eval_transform(config.data, splits.mean, splits.std, splits.image_size)
    return paths, splits.test.images[:n], {"transform": transform, "classes": splits.classes}


def test_predict_gives_the_pytorch_models_predictions_in_every_format(smoke_run, tmp_path):
    """`natv2 predict` with only the exported files (no run dir, no dataset) = the PyTorch model on the run's inputs."""
    import natv2

    run_dir, _ = smoke_run
    summary = json.loads((run_dir / "models" / "export.json").read_text())
    paths, images, data = _digits_test_pngs(run_dir, tmp_path, 48)
    for entry in summary["models"]:
        folder = run_dir / "models" / entry["folder"]
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["classes"] == data["classes"] and meta["preprocessing"]["resize"] == "resize"
        model = natv2.load_model(folder)
        with torch.no_grad():
            expected = model(data["transform"](images, int(meta["resolution"])).contiguous()).argmax(1).tolist()
        assert len(set(expected)) > 1, "a constant classifier would not test the input pipeline"
        for fmt in ("safetensors", "torchscript", "onnx"):
            proc = _natv2("predict", str(folder), *paths, "--format", fmt, "--json", cwd=tmp_path)
            assert proc.returncode == 0, proc.stderr[-2000:]
            got = [p["index"] for p in json.loads(proc.stdout)["predictions"]]
            assert got == expected, fmt
        proc = _natv2("predict", str(folder), *paths, "--format", "int8", "--json", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert json.loads(proc.stdout)["format"] == "int8" and len(json.loads(proc.stdout)["predictions"]) == len(paths)
        ours = natv2.predict(folder / entry["files"]["onnx"], paths[:5], top=3)
        assert [p.index for p in ours] == expected[:5] and len(ours[0].top) == 3
        assert ours[0].label == data["classes"][expected[0]]


def test_predict_refuses_bad_images_and_models_in_one_paragraph(smoke_run, tmp_path):
    run_dir, _ = smoke_run
    folder = run_dir / "models" / json.loads((run_dir / "models" / "export.json").read_text())["models"][0]["folder"]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    for args, words in (([str(folder), str(bad)], "cannot read image"),
                        ([str(folder), str(tmp_path / "missing.png")], "does not exist"),
                        ([str(bad), str(bad)], "not a model file"),
                        ([str(tmp_path), str(bad)], "no safetensors model"),
                        ([str(run_dir / "models"), str(bad)], f"pass one model folder, e.g. {folder.parent}/"),
                        ([str(run_dir / "models" / "export.json"), str(bad)], "not one model")):
        proc = _natv2("predict", *args, cwd=tmp_path)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert words in proc.stderr and "fix:" in proc.stderr
