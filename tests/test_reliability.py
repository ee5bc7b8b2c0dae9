"""Reliability (issue 12): bad inputs and a misbehaving machine get a clear message, a non-zero exit and
no traceback; a run directory never claims settings its results were not computed with; files are
written with the user's umask and a killed writer's temp files are cleaned. Each test names the
case of docs/reliability.md it checks."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from natv2.cli.main import main

SMOKE = ("--preset", "smoke")


def natv2(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process; (exit code, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_clean_refusal(code: int, err: str, *needles: str) -> None:
    """Exit 2 (bad input), no traceback, not reported as a bug, and the message says each needle."""
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err and "this is a bug" not in err, err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


# ----------------------------------------------------------------------------- item 5: umask
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    from natv2.io.atomic import atomic_write_json, atomic_write_with

    old = os.umask(umask)
    try:
        a = atomic_write_json(tmp_path / "a.json", {"x": 1})
        b = atomic_write_with(tmp_path / "b.bin", lambda tmp: Path(tmp).write_bytes(b"1"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(a.stat().st_mode) == mode
    assert stat.S_IMODE(b.stat().st_mode) == mode


def test_saved_config_is_readable_by_others_under_the_usual_umask(tmp_path):
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config

    old = os.umask(0o022)
    try:
        with RunDir.open(tmp_path / "run", resolve_config(preset="smoke")) as run:
            path = run.config_path
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# ----------------------------------------------------------------------------- item 8: temp files
def test_temp_files_of_a_killed_writer_are_removed_on_the_next_start(tmp_path):
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config

    config = resolve_config(preset="smoke")
    with RunDir.open(tmp_path / "run", config):
        pass
    stale = [tmp_path / "run" / ".config.yaml.abc123.tmp", tmp_path / "run" / "train" / ".metrics.jsonl.x1.tmp"]
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    keep = tmp_path / "run" / "train" / "notes.tmp"  # not ours (no leading dot): left alone
    keep.write_text("mine")
    with RunDir.open(tmp_path / "run", config) as run:
        removed = run.read_events("run", "temp_files_removed")
    assert not any(p.exists() for p in stale)
    assert keep.exists()
    assert sorted(removed[-1].data["files"]) == sorted(str(p.relative_to(tmp_path / "run")) for p in stale)


# ----------------------------------------------------------------------------- item 4: environment errors
def _bare_run_dir(path: Path) -> Path:
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config

    with RunDir.open(path, resolve_config(preset="smoke", values={"run.run_dir": str(path)})):
        pass
    return path


@pytest.mark.parametrize("code, needle", [(errno.ENOSPC, "no space left"), (errno.EDQUOT, "quota")])
def test_a_full_disk_is_an_environment_error_not_a_bug(tmp_path, capsys, monkeypatch, code, needle):
    import natv2.io.atomic as atomic

    run = _bare_run_dir(tmp_path / "run")

    def full(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(run / "report" / "index.html"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full)
    status, _, err = natv2(capsys, "report", str(run))
    assert_clean_refusal(status, err, needle, "index.html")


def test_a_full_disk_inside_a_library_writer_is_recognised_by_its_text():
    from natv2.errors import StorageError, as_storage_error

    class SafetensorError(Exception):
        pass

    wrapped = SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull, "
                              "message: \"No space left on device\" })")
    err = as_storage_error(wrapped)
    assert isinstance(err, StorageError) and "no space left" in err.problem and "run the same command again" in err.fix
    assert as_storage_error(ValueError("a real bug")) is None


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_report_on_a_read_only_run_directory_names_out(tmp_path, capsys, monkeypatch, code):
    import natv2.io.atomic as atomic

    run = _bare_run_dir(tmp_path / "run")
    real = atomic.tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):  # noqa: A002 - mkstemp's own keyword
        if dir is not None and Path(dir).resolve().is_relative_to(run.resolve()):
            raise OSError(code, os.strerror(code), str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", read_only)
    status, _, err = natv2(capsys, "report", str(run))
    assert_clean_refusal(status, err, "--out DIR")
    # the fix works: the report goes elsewhere
    status, out, err = natv2(capsys, "report", str(run), "--out", str(tmp_path / "elsewhere"))
    assert status == 0, err
    assert (tmp_path / "elsewhere" / "index.html").is_file()


@pytest.fixture(scope="module")
def tiny_supernet(tmp_path_factory) -> Path:
    """A small saved supernet for digits (10 classes, r=16)."""
    import torch

    from natv2.supernets import create, save_supernet

    torch.manual_seed(0)
    stem = tmp_path_factory.mktemp("supernet") / "supernet"
    save_supernet(create("ofav2_ee_d", 10, r=[16]), stem)
    return stem


@pytest.mark.parametrize("damage, needle", [
    (lambda text: text[: len(text) // 2], "not valid JSON"),
    (lambda text: json.dumps({"format": "natv2-supernet-checkpoint", "meta": {}}), "'arch'"),
    (lambda text: json.dumps([1, 2, 3]), "top level is a JSON list"),
    (lambda text: json.dumps({"hello": "world"}), "not a natv2 supernet description"),
])
def test_a_truncated_or_foreign_supernet_json_is_refused_clearly(tmp_path, capsys, tiny_supernet, damage, needle):
    bad = tmp_path / "bad" / "supernet"
    bad.parent.mkdir()
    (bad.parent / "supernet.safetensors").symlink_to(tiny_supernet.with_suffix(".safetensors"))
    (bad.parent / "supernet.json").write_text(damage(tiny_supernet.with_suffix(".json").read_text()))
    run = tmp_path / "run"
    status, _, err = natv2(capsys, "run", *SMOKE, "--supernet", str(bad), "--run-dir", str(run))
    assert_clean_refusal(status, err, needle, "supernet.json")
    assert not run.exists(), "a refused start writes nothing"


@pytest.mark.parametrize("doc", [[1, 2, 3], "text", {"format": "something-else"}])
def test_load_model_on_a_foreign_json_is_a_checkpoint_error(tmp_path, doc):
    import natv2
    from natv2.errors import CheckpointError

    (tmp_path / "model.json").write_text(json.dumps(doc))
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a natv2"):
        natv2.load_model(tmp_path / "model.json")


# ----------------------------------------------------------------------------- item 6: validation at resolve time
BAD_SETTINGS = [
    ("search_stage.space={r: [99]}", "search_stage.space.r=[99] is not within the supernet's r [16]", "search_stage.space.r=[16]"),
    ("search_stage.space={ks: [9]}", "search_stage.space.ks=[9]", "search_stage.space.ks="),
    ("data.batch_size=0", "'data.batch_size' = 0", "--set data.batch_size=64"),
    ("data.eval_batch_size=-1", "'data.eval_batch_size' = -1", "--set data.eval_batch_size=64"),
    ("data.calib_batch_size=0", "'data.calib_batch_size' = 0", "--set data.calib_batch_size=64"),
    ("data.val_size=1.5", "'data.val_size' = 1.5", "--set data.val_size=0.1"),
    ("data.val_size=-3", "'data.val_size' = -3", "--set data.val_size=0.1"),
    ("data.train_subset=0", "'data.train_subset' = 0", "--set data.train_subset=null"),
    ("data.crop_scale_min=0", "'data.crop_scale_min' = 0", "--set data.crop_scale_min=0.35"),
    ("data.name=cifar11", "'data.name' = 'cifar11' is not a known dataset", "--set data.name=cifar10"),
    ("train.supernet=ofav3", "'train.supernet' = 'ofav3' is not a registered supernet", "--set train.supernet=ofav2_ee_d"),
    ("search_stage.random_init=nope", "'search_stage.random_init' = 'nope'", "--set search_stage.random_init=ofav2_ee_d"),
]


@pytest.mark.parametrize("setting, problem, fix", BAD_SETTINGS)
def test_config_show_refuses_what_run_would_refuse_and_a_refused_start_writes_nothing(tmp_path, capsys, setting,
                                                                                       problem, fix):
    status, out, err = natv2(capsys, "config", "show", *SMOKE, "--set", setting)
    assert_clean_refusal(status, err, problem, fix)
    run = tmp_path / "run"
    status, _, err2 = natv2(capsys, "run", *SMOKE, "--set", setting, "--run-dir", str(run))
    assert_clean_refusal(status, err2, problem)
    assert not run.exists(), "a refused start writes nothing"


def test_the_fix_a_space_refusal_names_is_accepted(capsys):
    status, out, err = natv2(capsys, "config", "show", *SMOKE, "--set", "search_stage.space.r=[16]")
    assert status == 0, err


def test_search_space_is_checked_against_a_given_supernet_before_the_run_starts(tmp_path, capsys, tiny_supernet):
    run = tmp_path / "run"
    status, _, err = natv2(capsys, "run", *SMOKE, "--supernet", str(tiny_supernet), "--set", "search_stage.space.d=[7]",
                           "--run-dir", str(run))
    assert_clean_refusal(status, err, "search_stage.space.d=[7]", str(tiny_supernet) + ".json")
    assert not run.exists()
