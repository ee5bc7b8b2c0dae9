"""Neural Architecture Transfer (issue 19): a source supernet gets new heads for the target's classes on
every exit of every family, bad sources are refused before anything is written, the resolution rule,
the warm-up recipe's phases, and a transfer run end to end (the transfer-smoke preset on digits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from natv2.errors import CheckpointError, ConfigError
from natv2.supernets import create, list_supernets, save_subnet, save_supernet
from natv2.supernets.source import resolve_source

NATV2 = [sys.executable, "-m", "natv2.cli.main"]


def _saved_source(tmp_path: Path, name: str = "ofav2_ee_d", n_classes: int = 7, r=(16, 24), **meta) -> Path:
    torch.manual_seed(0)
    net = create(name, n_classes, r=list(r))
    save_supernet(net, tmp_path / f"{name}-src", {"dataset": "synthetic", **meta})
    return tmp_path / f"{name}-src.safetensors"


# ---------------------------------------------------------------------- class-count change
@pytest.mark.parametrize("name", list_supernets())
def test_new_heads_on_every_exit_keep_the_body_and_extract_exactly(tmp_path, name):
    path = _saved_source(tmp_path, name, n_classes=7, r=(16,))
    source = resolve_source(path)
    torch.manual_seed(1)
    net = source.build(3, dict(source.space)).eval()
    weights = load_file(str(path))
    heads = [k for k in net.state_dict() if ".classifier." in k]
    assert heads and all(k.startswith("exits.") for k in heads)
    for key, value in net.state_dict().items():
        if ".classifier." in key:
            assert value.shape[0] == 3, key  # weight (3, F) and bias (3,)
        else:
            assert torch.equal(value, weights[key]), key  # the body is the source's, bit for bit
    assert net.n_classes == 3 and net.arch.n_classes == 3
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    cfg = net.sample_active_subnet(np.random.default_rng(0))
    with torch.no_grad():
        out = net(x)
        assert out.shape == (2, 3)
        sub = net.extract_subnet().eval()
        assert (sub(x) - out).abs().max().item() <= 1e-5
        if net.space.nd is not None and cfg.nd >= 2:  # multi-exit: every active exit answers for 3 classes
            exits = list(range(1, cfg.nd + 1))
            logits = net(x, exits=exits)
            assert all(t.shape == (2, 3) for t in logits)
            multi = net.extract_subnet(exits=exits).eval()(x)
            assert all((a - b).abs().max().item() <= 1e-5 for a, b in zip(multi, logits))


def test_the_new_heads_come_from_the_seed(tmp_path):
    source = resolve_source(_saved_source(tmp_path))
    torch.manual_seed(5)
    a = source.build(4, dict(source.space)).state_dict()
    torch.manual_seed(5)
    b = source.build(4, dict(source.space)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_heads_stay_only_when_the_target_has_the_source_classes(tmp_path):
    source = resolve_source(_saved_source(tmp_path, n_classes=3, class_names=["a", "b", "c"]))
    weights = load_file(str(source.weights))
    kept = source.build(3, dict(source.space), class_names=["a", "b", "c"]).state_dict()
    assert all(torch.equal(kept[k], weights[k]) for k in weights)
    renamed = source.build(3, dict(source.space), class_names=["x", "y", "z"]).state_dict()
    assert not torch.equal(renamed["exits.5.classifier.weight"], weights["exits.5.classifier.weight"])
    assert not source.keeps_heads(4) and source.keeps_heads(3)  # names unknown on the target side: the count


# ---------------------------------------------------------------------- resolving and checking
def test_a_source_resolves_from_a_run_directory_a_file_or_its_stem(tmp_path):
    path = _saved_source(tmp_path, class_names=["a", "b"])
    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    for suffix in (".safetensors", ".json"):
        (run / "train" / f"supernet{suffix}").write_bytes(path.with_suffix(suffix).read_bytes())
    by_file, by_stem, by_run = resolve_source(path), resolve_source(path.with_suffix("")), resolve_source(run)
    assert by_file.sha256 == by_stem.sha256 == by_run.sha256
    card = by_run.card()
    assert card["supernet"] == "ofav2_ee_d" and card["n_classes"] == 7 and card["dataset"] == "synthetic"
    assert card["resolutions"] == [16, 24] and card["class_names"] == ["a", "b"] and len(card["sha256"]) == 64


def test_the_resolution_rule(tmp_path):
    source = resolve_source(_saved_source(tmp_path, r=(32, 40, 48)))
    assert source.target_resolutions(80) == [32, 40, 48]  # Imagenette at 80 px: every source resolution
    assert source.target_resolutions(32) == [32]  # CIFAR-10: no upsampling past the images
    assert source.target_resolutions(8) == [32]  # smaller than every source resolution: the smallest
    assert source.target_resolutions(80, [36]) == [36] and source.resolution_note([36]) is None
    assert "outside" in source.resolution_note([64])


@pytest.mark.parametrize("make, match", [
    (lambda d: d / "missing.safetensors", "does not exist"),
    (lambda d: d / "missing.pth", "does not exist"),
    (lambda d: d, "without a trained supernet"),
    (lambda d: _write(d / "junk.json", "{not json"), "not valid JSON"),
    (lambda d: _write(d / "other.json", json.dumps({"format": "something"})), "not a natv2 supernet"),
    (lambda d: _subnet_file(d), "a natv2 subnet"),
    (lambda d: _write(d / "bytes.pth", "not a torch file"), "cannot read OFA checkpoint"),
])
def test_bad_sources_get_clear_errors(tmp_path, make, match):
    with pytest.raises(CheckpointError, match=match):
        resolve_source(make(tmp_path))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    if path.suffix == ".json":
        path.with_suffix(".safetensors").write_bytes(b"")
    return path


def _subnet_file(d: Path) -> Path:
    net = create("ofav2_ee_d", 5, r=[16])
    save_subnet(net.extract_subnet(), d / "sub")
    return d / "sub.safetensors"


@pytest.mark.parametrize("supernet, width, space, match", [
    ("ofa_mbv3", 1.0, {}, "of family 'ofav2_ee_d'"),
    ("ofav2_ee_d", 1.2, {}, "width multiplier 1.0"),
    ("ofav2_ee_d", 1.0, {"ks": [3, 5, 7, 9]}, "never trained"),
    ("ofav2_ee_d", 1.0, {"d": [2, 3]}, "drops the source's largest d"),
])
def test_a_config_the_source_cannot_serve_is_refused(tmp_path, supernet, width, space, match):
    source = resolve_source(_saved_source(tmp_path))
    with pytest.raises(ConfigError, match=match):
        source.check(supernet, width, space)


def test_config_resolution_refuses_bad_sources_and_a_transfer_recipe_without_one(tmp_path):
    from natv2.pipeline.config import resolve_config

    with pytest.raises(ConfigError, match="no source is given"):
        resolve_config(preset="transfer-smoke")
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_config(preset="transfer-smoke", values={"train.source": str(tmp_path / "nope.safetensors")})
    src = _saved_source(tmp_path)
    with pytest.raises(ConfigError, match="family 'ofav2_ee_d'"):
        resolve_config(preset="transfer-smoke", overrides=["train.supernet=ofav2_ee_b"], values={"train.source": str(src)})
    cfg = resolve_config(preset="transfer-smoke", values={"train.source": str(src)})
    assert cfg.train.resolved_recipe() == "warmup"


def test_a_transfer_preset_needs_no_source_where_nothing_is_left_to_train(tmp_path):
    """Searching a given supernet, or resuming a run whose supernet is trained, keeps the preset's recipe."""
    from natv2.io.artifacts import Layout
    from natv2.pipeline.config import resolve_config

    src = _saved_source(tmp_path)
    given = resolve_config(preset="transfer-smoke", values={"search_stage.supernet": str(src.with_suffix(""))})
    assert given.train.resolved_recipe() == "warmup"
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match="no source is given"):
        resolve_config(preset="transfer-smoke", values={"run.run_dir": str(run)})
    trained = Layout(run).trained_supernet
    trained.parent.mkdir(parents=True)
    trained.with_suffix(".json").write_text(src.with_suffix(".json").read_text())
    assert resolve_config(preset="transfer-smoke", values={"run.run_dir": str(run)}).train.source is None


def test_old_run_directories_with_init_from_still_load(tmp_path):
    from natv2.pipeline.config import resolve_config

    saved = tmp_path / "config.yaml"
    saved.write_text("extends: smoke\ntrain:\n  init_from: null\n")
    assert resolve_config(config_file=saved).train.source is None


def test_the_warmup_recipe_is_the_full_network_then_one_phase_over_the_whole_space():
    from natv2.train.recipes import build_phases, initial_space

    space = create("ofav2_ee_dp", 10, r=[16, 24]).space
    full, elastic = build_phases(space, "warmup")
    assert full.kind == "full" and full.space == initial_space(space)
    assert elastic.kind == "elastic" and elastic.space == space and elastic.subnets_per_step == 4
    assert build_phases(space, "none") == []


# ---------------------------------------------------------------------- end to end
def _cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([*NATV2, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_a_bad_source_on_the_command_line_writes_nothing(tmp_path):
    run = tmp_path / "run"
    proc = _cli("run", "--preset", "transfer-smoke", "--source", str(tmp_path / "missing"), "--run-dir", str(run), cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "does not exist" in proc.stderr + proc.stdout
    assert not run.exists()


def _transfer_smoke(tmp_path: Path, command: str) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """`natv2 COMMAND --preset transfer-smoke` from a 7-class source: (source, run directory, process)."""
    src = _saved_source(tmp_path, n_classes=7, r=(16, 24))
    run = tmp_path / "run"
    proc = _cli(command, "--preset", "transfer-smoke", "--source", str(src), "--run-dir", str(run),
                "--set", "run.progress=false", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return src, run, proc


def test_transfer_smoke_preset_end_to_end(tmp_path):
    src, run, _ = _transfer_smoke(tmp_path, "run")
    record = json.loads((run / "train" / "source.json").read_text())
    assert record["sha256"] == resolve_source(src).sha256 and record["n_classes"] == 7
    assert record["target"]["n_classes"] == 10 and record["target"]["space"]["r"] == [16]  # digits: 8 px
    trained = json.loads((run / "train" / "supernet.json").read_text())
    assert trained["arch"]["arch"]["n_classes"] == 10 and trained["meta"]["source"]["sha256"] == record["sha256"]
    assert [p["name"] for p in trained["meta"]["phases"]] == ["full", "elastic"]
    metas = list(run.glob("models/*/meta.json"))
    assert metas and all(json.loads(m.read_text())["transfer_source"]["sha256"] == record["sha256"] for m in metas)
    html = (run / "report" / "index.html").read_text()
    assert record["sha256"][:12] in html and "synthetic" in html


@pytest.mark.slow
def test_a_transfer_run_killed_mid_warmup_and_mid_search_resumes_identically(tmp_path):
    from test_fault_injection import _assert_equal, _results, _run_and_kill

    src = _saved_source(tmp_path, n_classes=7, r=(16, 24))
    args = ["run", "--preset", "transfer-smoke", "--source", str(src), "--set", "run.threads=1",
            "--set", "run.progress=false"]
    reference = tmp_path / "reference"
    proc = _cli(*args, "--run-dir", str(reference), cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "killed"
    kills = [_run_and_kill(run, "train", "epoch_end", 1, 0.0, args=args),  # after the full phase, before `elastic`
             _run_and_kill(run, "search", "iteration", 1, 0.05, args=args)]
    assert all(kills), kills
    proc = _cli(*args, "--run-dir", str(run), cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_equal(_results(reference), _results(run))
    assert json.loads((run / "train" / "source.json").read_text())["sha256"] == resolve_source(src).sha256


def test_a_resume_with_a_changed_source_file_is_refused(tmp_path):
    from natv2.supernets.source import check_same_source, read_source_record, write_source_record

    (tmp_path / "a").mkdir()
    a = resolve_source(_saved_source(tmp_path / "a"))
    run = tmp_path / "run"
    write_source_record(run, a, {"n_classes": 10})
    assert read_source_record(run)["target"] == {"n_classes": 10}
    check_same_source(run, a)  # the same file: fine
    torch.manual_seed(9)
    save_supernet(create("ofav2_ee_d", 7, r=[16, 24]), a.weights.with_suffix(""), {"dataset": "synthetic"})
    with pytest.raises(CheckpointError, match="not the one this run started from"):
        check_same_source(run, resolve_source(a.weights))
    assert read_source_record(tmp_path / "scratch-run") is None


def test_search_with_a_source_and_no_trained_supernet_is_nat_style_transfer(tmp_path):
    _, run, proc = _transfer_smoke(tmp_path, "search")
    assert "no warm-up" in proc.stdout
    record = json.loads((run / "train" / "source.json").read_text())
    assert record["target"]["recipe"] == "none" and record["target"]["new_heads"] is True
    assert json.loads((run / "search" / "supernet.json").read_text())["arch"]["arch"]["n_classes"] == 10
