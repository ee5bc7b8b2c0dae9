"""Fault injection (issue 12): `natv2 run --preset smoke` SIGKILLed at seeded points in every stage, resumed
each time, ends with the results of an uninterrupted run (weights bit for bit, JSON results up to timings).

Slow tier: three smoke runs and a dozen restarts take a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

NATV2 = [sys.executable, "-m", "natv2.cli.main"]
SMOKE = ["run", "--preset", "smoke", "--set", "run.threads=1", "--set", "run.progress=false"]
# (stage, event, how many of them to wait for): one kill point per stage, the count drawn by seed.
KILL_POINTS = [("train", "epoch_end", range(1, 10)), ("search", "iteration", range(1, 2)),
               ("finetune", "start", range(1, 2)), ("export", "start", range(1, 2))]
VOLATILE = ("seconds", "time", "elapsed", "wall", "latency", "images_per_s", "_s", "ts", "path", "dir", "file", "files")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(errors="replace").split("\n")[:-1]  # a torn last line is not an event yet
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def _run_and_kill(run: Path, stage: str, event: str, count: int, delay: float, timeout: float = 600,
                  args: tuple[str, ...] | list[str] = tuple(SMOKE)) -> bool:
    """Start the pipeline (`args`); SIGKILL it `delay` s after the `count`-th (stage, event) of this attempt.
    True if killed."""
    before = sum(1 for e in _events(run) if (e["stage"], e["event"]) == (stage, event))
    proc = subprocess.Popen([*NATV2, *args, "--run-dir", str(run)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < timeout:
        seen = sum(1 for e in _events(run) if (e["stage"], e["event"]) == (stage, event)) - before
        if seen >= count:
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            break
        time.sleep(0.02)
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, proc.stderr.read().decode()[-3000:]
    return False


def _scrub(obj):
    """JSON results without what legitimately differs between runs (timings, paths)."""
    if isinstance(obj, dict):
        return {k: _scrub(v) for k, v in obj.items() if not any(k == v_ or k.endswith(v_) for v_ in VOLATILE)}
    if isinstance(obj, list):
        return [_scrub(v) for v in obj]
    return obj


RESULT_JSON = ["search/archive.json", "search/non_dominated.json", "search/high_tradeoff.json",
               "search/final_test.json"]
RESULT_WEIGHTS = ["train/supernet.safetensors", "search/supernet.safetensors"]


def _results(run: Path) -> dict[str, object]:
    out: dict[str, object] = {rel: _scrub(json.loads((run / rel).read_text())) for rel in RESULT_JSON}
    for rel in RESULT_WEIGHTS + sorted(str(p.relative_to(run)) for p in run.glob("models/*/finetuned.safetensors")):
        out[rel] = load_file(str(run / rel))
    out["finetune"] = _scrub(json.loads((run / "models" / "finetune.json").read_text()))
    return out


def _assert_equal(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], dict) and a[key] and all(isinstance(v, torch.Tensor) for v in a[key].values()):
            assert sorted(a[key]) == sorted(b[key]), key
            for name in a[key]:
                assert torch.equal(a[key][name], b[key][name]), f"{key}: tensor {name} differs"
        else:
            assert a[key] == b[key], key


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_in_every_stage_resumes_to_the_uninterrupted_results(tmp_path_factory, seed):
    work = tmp_path_factory.mktemp(f"faults{seed}")
    reference = work / "reference"
    proc = subprocess.run([*NATV2, *SMOKE, "--run-dir", str(reference)], env=_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rng = random.Random(seed)
    run = work / "killed"
    kills = []
    for stage, event, counts in KILL_POINTS:
        count, delay = rng.choice(list(counts)), rng.uniform(0.0, 0.4)
        if _run_and_kill(run, stage, event, count, delay):
            kills.append((stage, count, round(delay, 3)))
    assert len(kills) >= 3, f"too few kills landed: {kills}"
    proc = subprocess.run([*NATV2, *SMOKE, "--run-dir", str(run)], env=_env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(run.rglob(".*.tmp")), "temp files of the killed writers are gone"
    _assert_equal(_results(reference), _results(run))
