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
import torch

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
        from natv2.supernets.checkpoint import save_weights

        c = save_weights({"w": torch.zeros(2)}, tmp_path / "c.safetensors")  # safetensors writes it 0600
    finally:
        os.umask(old)
    assert stat.S_IMODE(a.stat().st_mode) == mode
    assert stat.S_IMODE(b.stat().st_mode) == mode
    assert stat.S_IMODE(c.stat().st_mode) == mode


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
    ("search.objectives=[err,latency_ms]", "names ['latency_ms'], which natv2 does not know", "--set 'search.objectives=[err,params]'"),
    ("search.objectives=[err,lut_latency]", "needs a latency table", "--set search_stage.latency_table=PATH"),
    ("train.phase_overrides.kernl.epochs=2", "names phase(s) ['kernl'] that recipe 'eps' does not have", "kernel"),
    ("search.surrogate=lgbn", "unknown surrogate 'lgbn'", "lgbm"),
    ("search.surrogate_params.leaves=8", "surrogate 'lgbm' has no parameter(s) ['leaves']", "num_leaves"),
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


# ----------------------------------------------------------------------------- items 1 and 2: --force tells the truth
def _fake_run(path: Path, *, done: tuple[str, ...], searching: bool = False) -> Path:
    """A run directory as `natv2 run --preset smoke` leaves it: events and result files of the stages in
    `done` (and, with `searching`, a search killed part-way through)."""
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config

    with RunDir.open(path, resolve_config(preset="smoke", values={"run.run_dir": str(path)})) as run:
        for stage in done:
            run.log_event(stage, "start")
            run.mark_done(stage)
        if "train" in done:
            run.write_json("train/supernet.json", {"stand-in": True})
        if searching:
            run.log_event("search", "start")
            run.log_event("search", "iteration", iteration=0)
            run.write_text("search/journal.jsonl", "{}\n")
    return path


def _saved_state(run: Path) -> tuple[bytes, int]:
    return (run / "config.yaml").read_bytes(), len((run / "events.jsonl").read_text().splitlines())


@pytest.mark.parametrize("force", [True, False])
def test_changed_settings_on_a_finished_run_are_refused_and_the_record_is_untouched(tmp_path, capsys, force):
    run = _fake_run(tmp_path / "X", done=("train", "search", "finetune", "export"))
    config_before, _ = _saved_state(run)
    status, _, err = natv2(capsys, "run", *SMOKE, "--set", "search.iterations=2", "--set", "run.seed=1",
                           "--run-dir", str(run), *(["--force"] if force else []))
    assert_clean_refusal(status, err, "run.seed: 0 -> 1", "search.iterations: 1 -> 2", "NEW_DIR",
                         "holds results of train, search, finetune computed")
    assert (run / "config.yaml").read_bytes() == config_before
    assert not any(e.get("event") == "config_changed" for e in map(json.loads, (run / "events.jsonl").read_text().splitlines()))


def test_a_forced_change_during_a_search_does_not_wedge_the_run_directory(tmp_path, capsys):
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config
    from natv2.pipeline.run import config_change_policy

    run = _fake_run(tmp_path / "Y", done=("train",), searching=True)
    config_before, _ = _saved_state(run)
    status, _, err = natv2(capsys, "run", *SMOKE, "--set", "search.iterations=2", "--run-dir", str(run), "--force")
    assert_clean_refusal(status, err, "search.iterations: 1 -> 2", "holds results of search computed", "--supernet")
    assert (run / "config.yaml").read_bytes() == config_before
    # the run still opens with its own settings (natv2 run Y resumes instead of being refused)
    saved = resolve_config(config_file=str(run / "config.yaml"), values={"run.run_dir": str(run)})
    with RunDir.open(run, saved, change_policy=config_change_policy):
        pass


def test_a_change_no_stage_with_results_depends_on_is_taken_with_force_and_logged(tmp_path, capsys):
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config
    from natv2.pipeline.run import config_change_policy

    run = _fake_run(tmp_path / "Z", done=("train", "search"))
    changed = resolve_config(preset="smoke", overrides=["finetune.max_epochs=2"], values={"run.run_dir": str(run)})
    from natv2.errors import RunDirError

    with pytest.raises(RunDirError, match="--force"):
        RunDir.open(run, changed, change_policy=config_change_policy)
    with RunDir.open(run, changed, force=True, change_policy=config_change_policy) as r:
        logged = r.read_events("run", "config_changed")
    assert "max_epochs: 2" in (run / "config.yaml").read_text()
    assert logged[-1].data["changes"][0]["key"] == "finetune.max_epochs"


def test_a_start_that_computed_nothing_takes_the_corrected_config_without_force(tmp_path, capsys):
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config
    from natv2.pipeline.run import config_change_policy

    run = tmp_path / "W"
    with RunDir.open(run, resolve_config(preset="smoke", values={"run.run_dir": str(run)})) as r:
        r.log_event("train", "start")  # e.g. the dataset was missing: the stage failed before computing anything
    fixed = resolve_config(preset="smoke", overrides=["data.val_size=0.3"], values={"run.run_dir": str(run)})
    with RunDir.open(run, fixed, change_policy=config_change_policy):
        pass
    assert "val_size: 0.3" in (run / "config.yaml").read_text()


def test_run_on_a_run_directory_says_it_uses_the_saved_config(tmp_path, capsys):
    run = _fake_run(tmp_path / "V", done=("train", "search", "finetune", "export"))
    from natv2.cli.context import CliContext
    from natv2.cli.commands import load_commands
    from natv2.cli.registry import build_parser, merge_common

    parser = build_parser(load_commands(), description="", epilog="", version="0")
    ctx = CliContext(merge_common(parser.parse_args(["run", str(run)])))
    ctx.run_dir_config()
    sources = ", ".join(ctx.config_sources())
    assert "saved config" in sources and str(run / "config.yaml") in sources and "quickstart" not in sources


# ----------------------------------------------------------------------------- item 3: fixes that work
def _fix_command(err: str) -> list[str]:
    """The natv2 command a divergence message proposes, with NEW_DIR left to fill in."""
    import shlex

    fix = err.split("fix:", 1)[1]
    start = fix.index("natv2 ") + len("natv2 ")
    end = fix.index("--run-dir NEW_DIR") + len("--run-dir NEW_DIR")
    return shlex.split(fix[start:end])


def test_a_diverged_adaptation_names_its_own_key_and_a_search_command_that_works(tmp_path, capsys, tiny_supernet):
    run = tmp_path / "Z"
    status, _, err = natv2(capsys, "search", *SMOKE, "--supernet", str(tiny_supernet),
                           "--set", "search_stage.adapt.lr=1e30", "--run-dir", str(run))
    assert status == 3, err
    assert "Traceback" not in err and "search_stage.adapt.lr" in err
    assert "--resume" not in err and "phase_overrides" not in err
    command = _fix_command(err)
    assert command[0] == "search" and "--supernet" in command
    new = tmp_path / "NEW"
    status, _, err = natv2(capsys, *[str(new) if a == "NEW_DIR" else a for a in command], "--set", "run.threads=1")
    assert status == 0, err
    assert (new / "search" / "final_test.json").is_file()


def test_a_diverged_training_phase_names_its_key_and_a_command_that_works(tmp_path, capsys):
    run = tmp_path / "T"
    quick = ("--set", "train.only_phases=[full,kernel]", "--set", "train.phase_overrides.kernel.base_lr=1e30",
             "--set", "train.epochs_scale=0.01")
    status, _, err = natv2(capsys, "train-supernet", *SMOKE, *quick, "--run-dir", str(run))
    assert status == 3, err
    assert "train.phase_overrides.kernel.base_lr=" in err and "--resume" not in err
    command = _fix_command(err)
    assert command[0] == "train-supernet"
    new = tmp_path / "NEW"
    status, _, err = natv2(capsys, *[str(new) if a == "NEW_DIR" else a for a in command])
    assert status == 0, err
    assert (new / "train" / "supernet.safetensors").is_file()


# ----------------------------------------------------------------------------- item 7: classes
def _raw(train_labels, classes, val_labels=None):
    import numpy as np

    from natv2.data.raw import RawDataset, RawSplit

    def split(labels):
        labels = np.asarray(labels)
        return RawSplit(np.zeros((len(labels), 3, 8, 8), np.uint8), labels)

    splits = {"train": split(train_labels)}
    if val_labels is not None:
        splits["val"] = split(val_labels)
    return RawDataset(splits, list(classes), "a test dataset")


@pytest.mark.parametrize("raw, needle", [
    (lambda: _raw([0] * 20, ["cat"]), "has 1 class (cat)"),
    (lambda: _raw([0] * 20, ["cat", "dog", "eel"]), "has images of 1 of its 3 classes"),
    (lambda: _raw([0] * 10 + [1] * 10, ["cat", "dog"], val_labels=[0, 1, 2, 3]), "the val split has labels 0..3"),
])
def test_single_class_and_mismatched_class_counts_are_refused(raw, needle):
    from natv2.data import DataConfig
    from natv2.data.load import split_dataset
    from natv2.errors import DataError

    with pytest.raises(DataError) as info:
        split_dataset(raw(), DataConfig(name="imagefolder", val_size=2))
    assert needle in info.value.problem and info.value.fix


def test_a_single_class_image_folder_is_refused_by_the_cli(tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "data" / "train" / "only"
    folder.mkdir(parents=True)
    for i in range(12):
        Image.new("RGB", (16, 16), (i * 20, 0, 0)).save(folder / f"{i}.png")
    status, _, err = natv2(capsys, "train-supernet", *SMOKE, "--set", "data.name=imagefolder", "--set",
                           f"data.root={tmp_path / 'data'}", "--set", f"data.cache_dir={tmp_path / 'cache'}",
                           "--set", "data.val_size=2", "--run-dir", str(tmp_path / "run"))
    assert_clean_refusal(status, err, "has 1 class (only)", "at least two class folders")


# ----------------------------------------------------------------------------- item 8: disk use
@pytest.mark.parametrize("keep", [False, True])
def test_phase_checkpoints_nothing_reads_again_are_removed_unless_kept(tmp_path, capsys, keep):
    run = tmp_path / "run"
    args = (*SMOKE, "--set", "train.only_phases=[full,kernel,depth_1]", "--set",
            f"train.keep_phase_checkpoints={str(keep).lower()}", "--run-dir", str(run))
    status, _, err = natv2(capsys, "train-supernet", *args)
    assert status == 0, err
    phases = sorted(p.name for p in (run / "checkpoints" / "phases").iterdir()) if (run / "checkpoints" / "phases").exists() else []
    assert phases == (["depth_1", "full", "kernel"] if keep else [])
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    removed = [e["data"]["phases"] for e in events if e["event"] == "phase_files_removed"]
    # a phase's predecessor goes once the phase's teacher is on disk; the last phase's after training
    assert removed == ([] if keep else [["full"], ["kernel"], ["depth_1"]])
    # once training has finished, its resume weights and optimiser state go too (unless kept) ...
    left = sorted(p.name for p in (run / "checkpoints").glob("*.safetensors"))
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    if keep:
        assert len(left) == 2 and not state.get("finished")
    else:
        assert left == [] and state["finished"] is True and state["model_file"] is None
        gone = [e["data"]["files"] for e in events if e["event"] == "checkpoint_files_removed"]
        assert gone == [["model-p02e0001.safetensors"]]  # the last phase's end: weights only, no optimiser state
    # ... and running the stage again on the finished run trains nothing and keeps the trained supernet
    weights = (run / "train" / "supernet.safetensors").read_bytes()
    epochs = sum(e["event"] == "epoch_end" for e in events)
    if not keep:  # without --resume: refused with what to do, nothing trained
        status, _, err = natv2(capsys, "train-supernet", *args)
        assert_clean_refusal(status, err, "has already finished", "pass --resume")
    status, _, err = natv2(capsys, "train-supernet", *args, "--resume")
    assert status == 0, err
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "epoch_end" for e in events) == epochs
    assert (run / "train" / "supernet.safetensors").read_bytes() == weights
    if not keep:
        assert any(e["event"] == "train_already_finished" for e in events)


def test_phase_end_checkpoints_share_the_best_weights_and_a_restarted_phase_reuses_its_teacher(tmp_path, capsys, monkeypatch):
    """Peak disk (issue 12): the checkpoint that ends a phase is a hard link to the phase's best weights (same
    epoch, same weights) and holds no optimiser state; the previous phase's folder is gone as soon as the
    next phase's teacher is on disk. A kill before that phase's first checkpoint resumes from the teacher
    file (the folder it came from is gone) and ends with the uninterrupted run's weights."""
    from natv2.supernets.checkpoint import save_weights
    from natv2.train.checkpoint import CheckpointStore

    phases = ("--set", "train.only_phases=[full,kernel,depth_1]")
    status, _, err = natv2(capsys, "train-supernet", *SMOKE, *phases, "--run-dir", str(tmp_path / "ref"))
    assert status == 0, err
    saves: list[tuple[str, bool, bool]] = []
    original = CheckpointStore.save

    class Killed(BaseException):
        pass

    def spy(self, tag, model, optimizer, state, same_as=None):
        if state.phase == "depth_1":
            teacher = self.phase_dir("depth_1") / "teacher.safetensors"
            saves.append(("kill", teacher.is_file(), (self.root / "phases" / "kernel").exists()))
            raise Killed  # dies before depth_1's first checkpoint, after its teacher was written
        original(self, tag, model, optimizer, state, same_as)
        model_file = self.root / str(self.files().model_file)
        best = self.phase_dir(state.phase) / "best.safetensors"
        saves.append((state.phase, best.is_file() and os.path.samefile(model_file, best), self.files().optim_file is None))

    run = tmp_path / "run"
    monkeypatch.setattr(CheckpointStore, "save", spy)
    with pytest.raises(Killed):
        main(["train-supernet", *SMOKE, *phases, "--run-dir", str(run)])
    monkeypatch.setattr(CheckpointStore, "save", original)
    # both phase-end checkpoints: one file for best and checkpoint, no optimiser; depth_1's teacher on disk, kernel's folder gone
    assert saves == [("full", True, True), ("kernel", True, True), ("kill", True, False)]
    import natv2.train.trainer as trainer

    written: list[str] = []
    monkeypatch.setattr(trainer, "save_weights", lambda net, path, *a, **k: (written.append(Path(path).name), save_weights(net, path, *a, **k))[1])
    status, _, err = natv2(capsys, "train-supernet", *SMOKE, *phases, "--run-dir", str(run), "--resume")
    assert status == 0, err
    assert "teacher.safetensors" not in written and "best.safetensors" in written  # the teacher file was reused
    assert (run / "train" / "supernet.safetensors").read_bytes() == (tmp_path / "ref" / "train" / "supernet.safetensors").read_bytes()


def test_a_finished_training_whose_supernet_is_gone_is_refused_with_a_fix(tmp_path, capsys):
    args = (*SMOKE, "--set", "train.only_phases=[full]", "--run-dir", str(tmp_path / "run"))
    status, _, err = natv2(capsys, "train-supernet", *args)
    assert status == 0, err
    (tmp_path / "run" / "train" / "supernet.safetensors").unlink()
    status, _, err = natv2(capsys, "train-supernet", *args, "--resume")
    assert_clean_refusal(status, err, "finished, but its supernet", "train again in a new run directory")


def test_changed_export_settings_are_taken_with_force_since_each_model_records_its_own(tmp_path):
    from natv2.errors import RunDirError
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import resolve_config
    from natv2.pipeline.run import config_change_policy

    run = _fake_run(tmp_path / "E", done=("train", "search", "finetune", "export"))
    changed = resolve_config(preset="smoke", overrides=["export.formats=[onnx]"], values={"run.run_dir": str(run)})
    with pytest.raises(RunDirError, match="--force"):
        RunDir.open(run, changed, change_policy=config_change_policy)
    with RunDir.open(run, changed, force=True, change_policy=config_change_policy):
        pass
    refused = resolve_config(preset="smoke", overrides=["finetune.max_epochs=3"], values={"run.run_dir": str(run)})
    with pytest.raises(RunDirError, match="holds results of finetune"):
        RunDir.open(run, refused, force=True, change_policy=config_change_policy)
