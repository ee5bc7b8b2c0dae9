"""Run directories: config saved and checked on resume, the lock (live holder refused, dead holder
not blocking), the events log (fsynced lines, torn tail tolerated and repaired), atomic writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from natv2.config import load_config
from natv2.errors import RunDirError
from natv2.io.rundir import EventLog, RunDir, default_run_dir
from natv2.pipeline.config import RunConfig, resolve_config


def _cfg(*overrides: str) -> RunConfig:
    return resolve_config(preset="quickstart", overrides=list(overrides))


def test_new_run_dir_saves_resolved_config_and_logs_creation(tmp_path):
    cfg = _cfg("run.seed=4")
    with RunDir.open(tmp_path / "run", cfg) as run:
        assert run.config_path.exists()
        assert load_config(RunConfig, run.config_path) == cfg
        assert run.load_config(RunConfig) == cfg
        assert [e.event for e in run.read_events()] == ["created"]
        assert run.layout.iteration(7).name == "iter_007"  # paths: natv2.io.artifacts.Layout
        assert run.layout.checkpoints.parent == run.path and run.layout.report.name == "report"
    text = (tmp_path / "run" / "config.yaml").read_text()
    assert text.startswith("#") and yaml.safe_load(text)["run"]["seed"] == 4


def test_resume_same_config_allowed_different_config_refused(tmp_path):
    path = tmp_path / "run"
    RunDir.open(path, _cfg()).close()
    with RunDir.open(path, _cfg("run.threads=1", "run.progress=false")) as run:  # volatile keys only
        assert [e.event for e in run.read_events()] == ["created", "resumed"]
    batch = _cfg().data.batch_size
    with pytest.raises(RunDirError) as info:
        RunDir.open(path, _cfg(f"data.batch_size={2 * batch}"))
    msg = str(info.value)
    assert f"data.batch_size: {batch} -> {2 * batch}" in msg and "--force" in msg and "--run-dir" in msg
    # the refusal released the lock and left the saved config alone
    with RunDir.open(path, _cfg(f"data.batch_size={2 * batch}"), force=True) as run:
        changed = run.read_events(event="config_changed")
        assert changed and changed[0].data["changes"][0]["key"] == "data.batch_size"
        assert run.load_config(RunConfig).data.batch_size == 2 * batch


def test_refuses_a_foreign_non_empty_folder_and_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a natv2 run directory"):
        RunDir.open(tmp_path, _cfg())
    with pytest.raises(RunDirError, match="is a file"):
        RunDir.open(tmp_path / "notes.txt", _cfg())


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from natv2.io.rundir import RunDir
    run = RunDir.open(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
    """
)


def test_lock_refuses_a_live_holder_and_frees_on_its_death(tmp_path):
    path = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunDirError) as info:
            RunDir.open(path, _cfg())
        msg = str(info.value)
        assert f"process {holder.pid}" in msg and f"kill {holder.pid}" in msg and "--run-dir" in msg
        holder.send_signal(signal.SIGKILL)  # a crash: no clean-up code runs
        holder.wait(timeout=10)
        with RunDir.open(path, _cfg()) as run:  # the dead process's lock does not block
            assert run.writable
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_second_open_in_the_same_process_is_refused(tmp_path):
    with RunDir.open(tmp_path / "run", _cfg()):
        with pytest.raises(RunDirError, match="same process"):
            RunDir.open(tmp_path / "run", _cfg())
    RunDir.open(tmp_path / "run", _cfg()).close()  # free again after close


def test_events_are_json_lines_with_numpy_data(tmp_path):
    with RunDir.open(tmp_path / "run") as run:
        run.log_event("search", "iteration", it=np.int64(3), hv=np.float32(0.5), front=np.arange(3))
        run.mark_done("train")
        assert run.is_done("train") and not run.is_done("search")
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"ts", "stage", "event", "data"} for r in records)
    it = next(r for r in records if r["event"] == "iteration")
    assert it["stage"] == "search" and it["data"] == {"it": 3, "hv": 0.5, "front": [0, 1, 2]}


def test_torn_last_line_is_tolerated_then_repaired(tmp_path):
    path = tmp_path / "run"
    with RunDir.open(path) as run:
        run.log_event("train", "epoch", epoch=1)
    with open(path / "events.jsonl", "a") as fh:
        fh.write('{"ts": "2024-01-01", "stage": "tra')  # a crash mid-write
    reader = EventLog(path / "events.jsonl")
    assert [e.event for e in reader.read()] == ["created", "epoch"]
    with RunDir.open(path) as run:  # repaired under the lock, then appended cleanly
        run.log_event("train", "epoch", epoch=2)
        events = run.read_events()
    assert [e.event for e in events] == ["created", "epoch", "events_repaired", "resumed", "epoch"]
    assert (path / "events.jsonl").read_text().endswith("\n")


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    log.append("a", "one")
    with open(log.path, "a") as fh:
        fh.write("garbage\n")
    log.append("a", "two")
    with pytest.raises(RunDirError, match="line 2"):
        log.read()


def test_atomic_writes_leave_no_temp_files(tmp_path):
    with RunDir.open(tmp_path / "run", _cfg()) as run:
        for i in range(5):
            run.write_json("search/iter_000/archive.json", {"i": i})
            run.write_text("report/index.html", f"<p>{i}</p>")
        run.write_bytes("models/net.bin", b"\x00" * 10)

        def broken(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                fh.write(b"partial")
            raise RuntimeError("writer crashed")

        with pytest.raises(RuntimeError):
            run.write_with("search/iter_000/archive.json", broken)
        assert run.read_json("search/iter_000/archive.json") == {"i": 4}  # old file intact
        with pytest.raises(ValueError):
            run.file("../outside.txt")
    leftovers = [p for p in (tmp_path / "run").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_read_only_view_refuses_writes_and_closed_dir_too(tmp_path):
    run = RunDir.open(tmp_path / "run", _cfg())
    view = RunDir.read(tmp_path / "run")
    assert view.load_config(RunConfig) == _cfg()
    with pytest.raises(RunDirError, match="read-only"):
        view.write_text("x.txt", "no")
    run.close()
    with pytest.raises(RunDirError, match="read-only"):
        run.log_event("x", "y")
    with pytest.raises(RunDirError, match="not a natv2 run directory"):
        RunDir.read(tmp_path / "nothing")


def test_saved_config_from_an_incompatible_version_is_explained(tmp_path):
    path = tmp_path / "run"
    RunDir.open(path, _cfg()).close()
    (path / "config.yaml").write_text("run:\n  sede: 1\n")
    with pytest.raises(RunDirError) as info:
        RunDir.open(path, _cfg())
    assert "run.sede" in str(info.value) and "does not load" in str(info.value)


def test_default_run_dir_is_fresh(tmp_path):
    a = default_run_dir("quickstart", tmp_path)
    a.mkdir()
    b = default_run_dir("quickstart", tmp_path)
    assert a != b and a.name.startswith("quickstart-") and not b.exists()
    assert os.path.dirname(b) == str(tmp_path)
