"""A real `natv2 search` process (smoke preset: digits, a random-weight ofav2_ee_d supernet, the real supernet
evaluator and adaptation) SIGKILLed in the middle of an evaluation chunk, then again in the middle of the
supernet adaptation, resumes to the archive, the front and the adapted weights of an uninterrupted run.

The kills are deterministic: a thin wrapper around natv2's CLI SIGKILLs its own process at a chosen moment
(NATV2_TEST_KILL): `eval:N` when the evaluator starts its N-th subnet of this process (a chunk half done, not
journaled), `adapt:I:E` when adaptation iteration I has trained epoch E but not yet saved it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # ~1.5 min on 2 cores: three full searches' worth of smoke runs

WRAPPER = textwrap.dedent(
    """
    import os, signal, sys

    when = os.environ.get("NATV2_TEST_KILL", "")

    def die():
        sys.stdout.flush(); sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if when.startswith("eval:"):
        from natv2.measure.accuracy import SupernetEvaluator
        real_logits, count, at = SupernetEvaluator._logits, [0], int(when.split(":")[1])

        def _logits(self, cfg, split):
            count[0] += 1
            if count[0] == at:
                die()
            return real_logits(self, cfg, split)

        SupernetEvaluator._logits = _logits
    elif when.startswith("adapt:"):
        import natv2.train.steps as steps
        _, it, ep = when.split(":")
        real_run_epoch = steps.run_epoch

        def run_epoch(ec, *args, **kwargs):
            out = real_run_epoch(ec, *args, **kwargs)
            if ec.phase_name == f"adapt-{it}" and ec.epoch == int(ep):
                die()  # the epoch's weights changed in memory; its checkpoint is not written
            return out

        steps.run_epoch = run_epoch
    from natv2.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)

ARGS = ["--preset", "smoke", "--random-init", "ofav2_ee_d", "--set", "search_stage.adapt.epochs=2",
        "--set", "search.eval_chunk=6", "--set", "run.progress=false"]


def _search(tmp: Path, run_dir: Path, kill: str = "") -> subprocess.CompletedProcess:
    wrapper = tmp / "natv2_cli.py"
    wrapper.write_text(WRAPPER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "NATV2_TEST_KILL": kill}
    return subprocess.run([sys.executable, str(wrapper), "search", "--run-dir", str(run_dir), *ARGS],
                          capture_output=True, text=True, env=env, timeout=600)


def _archive(run_dir: Path) -> list:
    entries = json.loads((run_dir / "search" / "archive.json").read_text())["entries"]
    return [(json.dumps(e["config"], sort_keys=True), e["acc"], e["iteration"], e["evaluated"]) for e in entries]


def _evals(run_dir: Path) -> list:
    recs = [json.loads(line) for line in (run_dir / "search" / "journal.jsonl").read_text().splitlines()]
    return sorted((r["step"], r["key"]) for r in recs if r["type"] == "eval")


def test_sigkilled_search_resumes_to_the_uninterrupted_archive(tmp_path):
    from safetensors.torch import load_file

    ref = tmp_path / "uninterrupted"
    done = _search(tmp_path, ref)
    assert done.returncode == 0, done.stderr[-3000:]

    run = tmp_path / "killed"
    first = _search(tmp_path, run, kill="eval:11")  # inside the second chunk of the initial (pre-processed) archive
    assert first.returncode == -signal.SIGKILL, first.stderr[-3000:]
    assert len(_evals(run)) == 6  # one chunk journaled, the half-done one lost
    second = _search(tmp_path, run, kill="adapt:1:1")  # resumes, then dies inside iteration 1's adaptation
    assert second.returncode == -signal.SIGKILL, second.stderr[-3000:]
    state = json.loads((run / "search" / "adapt" / "state.json").read_text())
    assert (state["iteration"], state["epochs_done"]) == (1, 1)  # epoch 2 was trained, not saved
    assert not (run / "search" / "archive.json").exists()
    third = _search(tmp_path, run)
    assert third.returncode == 0, third.stderr[-3000:]

    assert _archive(run) == _archive(ref)
    assert _evals(run) == _evals(ref)  # every evaluation journaled once, none lost
    for name in ("non_dominated.json", "high_tradeoff.json"):
        assert json.loads((run / "search" / name).read_text()) == json.loads((ref / "search" / name).read_text())
    a, b = load_file(str(run / "search" / "supernet.safetensors")), load_file(str(ref / "search" / "supernet.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)  # the adapted weights, bitwise
    s_run, s_ref = (json.loads((d / "search" / "adapt" / "state.json").read_text()) for d in (run, ref))
    def losses(state):
        return [(h["iteration"], h["epoch"], h["loss"], h["lr"]) for h in state["history"]]  # not the seconds

    assert (s_run["iteration"], s_run["epochs_done"]) == (1, 2) and losses(s_run) == losses(s_ref)
