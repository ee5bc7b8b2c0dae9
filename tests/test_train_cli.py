"""`natv2 train-supernet` end to end on scikit-learn digits (tiny, no downloads): run dir, events,
metrics, trained supernet, and --resume of a finished run."""

from __future__ import annotations

import json

import torch

import natv2.cli.main as cli_main

torch.set_num_threads(1)

ARGS = [
    "--set", "data.name=digits", "--set", "data.train_subset=null", "--set", "data.val_size=64", "--set", "data.batch_size=16",
    "--set", "data.calib_size=32", "--set", "data.calib_batch_size=32", "--set", "data.eval_batch_size=64",
    "--set", "train.supernet=ofa_mbv3", "--set", "train.space.r=[16]", "--set", "train.only_phases=[full,kernel]",
    "--set", "train.phase_overrides.full.epochs=1", "--set", "train.phase_overrides.full.warmup_epochs=0",
    "--set", "train.phase_overrides.kernel.epochs=1",
    "--set", "train.phase_overrides.kernel.warmup_epochs=0",
    "--set", "train.steps_per_epoch=2", "--set", "train.val_random=1", "--set", "train.val_max_batches=1",
    "--set", "train.phase_eval_split=test", "--set", "train.phase_eval_random=2",
    "--set", "train.phase_eval_max_batches=1", "--set", "run.progress=false", "--set", "run.threads=1",
]


def test_train_supernet_command_writes_a_run_directory_and_resumes(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli_main.main(["train-supernet", "--run-dir", str(run), *ARGS])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "trained supernet" in out.out and "end-of-phase evaluation" in out.out
    for name in ("config.yaml", "events.jsonl", "checkpoints/state.json", "train/metrics.jsonl",
                 "train/val_accuracy.png", "train/supernet.safetensors", "train/supernet.json"):
        assert (run / name).exists(), name
    events = [json.loads(s) for s in (run / "events.jsonl").read_text().splitlines()]
    kinds = [(e["stage"], e["event"]) for e in events]
    assert ("train", "phase_start") in kinds and ("train", "done") in kinds
    assert [e["data"]["phase"] for e in events if e["event"] == "epoch_end"] == ["full", "kernel"]

    # a second start without --resume is refused with a clear message, not a traceback
    code = cli_main.main(["train-supernet", "--run-dir", str(run), *ARGS])
    err = capsys.readouterr().err
    assert code == 2 and "--resume" in err and "Traceback" not in err
    # --resume of a finished run trains nothing again: no new phase or epoch (a deterministic retrain would
    # rewrite the same bytes, so the events are what tells), same weights, same metrics
    weights = (run / "train/supernet.safetensors").read_bytes()
    metrics = (run / "train/metrics.jsonl").read_text()
    code = cli_main.main(["train-supernet", "--run-dir", str(run), "--resume", *ARGS])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert (run / "train/supernet.safetensors").read_bytes() == weights
    assert (run / "train/metrics.jsonl").read_text() == metrics
    events = [json.loads(s) for s in (run / "events.jsonl").read_text().splitlines()]
    assert [e["data"]["phase"] for e in events if e["event"] == "epoch_end"] == ["full", "kernel"]
    assert sum(e["event"] == "phase_start" for e in events) == 2
