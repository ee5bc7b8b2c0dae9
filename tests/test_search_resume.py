"""Resume after SIGKILL: no completed evaluation redone or lost; the final archive equals an uninterrupted run."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from natv2.io import read_json
from natv2.search.journal import Journal

SCRIPT = textwrap.dedent(
    """
    import json, math, os, signal, sys, time
    from pathlib import Path
    from natv2.io import atomic_write_json
    from natv2.search import SearchConfig, run_search

    run_dir, kill_after, log, delay = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    hold_after = int(sys.argv[5])  # >= 0: once the journal has this many records, wait in evaluate to be killed
    journal = Path(run_dir) / "search" / "journal.jsonl"
    state_file = Path(run_dir) / "adapter_state.json"

    class Adapter:
        # persists its state before returning, as the SupernetAdapter contract asks
        def __init__(self):
            self.shift = json.loads(state_file.read_text())["shift"] if state_file.exists() else 0
        def adapt(self, sampler, iteration):
            import numpy as np
            sampler(np.random.default_rng(iteration))
            self.shift = iteration
            atomic_write_json(state_file, {"shift": iteration})
            return True

    adapter = Adapter()

    def size(cfg):
        return float(sum(cfg.e[i] * cfg.ks[i] ** 2 for i in cfg.active_layer_indices()) * (cfg.r / 32) ** 2)

    def accuracy(cfg):
        noise = (int(cfg.digest(8), 16) % 1000) / 1000 - 0.5
        return 0.3 + 0.6 * (1 - math.exp(-size(cfg) / 500)) + 0.02 * noise + 0.001 * adapter.shift

    done = {"n": 0}

    def evaluate(cfgs):
        with open(log, "a") as fh:
            fh.write("".join(c.key + "\\n" for c in cfgs))
            fh.flush()
        done["n"] += len(cfgs)
        if 0 <= kill_after < done["n"]:
            os.kill(os.getpid(), signal.SIGKILL)
        while 0 <= hold_after and journal.exists() and hold_after < len(journal.read_bytes().splitlines()):
            time.sleep(0.05)  # the test kills the process from outside; it never finishes on its own
        time.sleep(delay * len(cfgs))
        return [accuracy(c) for c in cfgs]

    cfg = SearchConfig(policy="natv2", objectives=("err", "size"), seed=7, archive_size=12, preprocess_multiplier=2,
                       candidates_per_iter=4, iterations=3, emo_pop=16, emo_gens=4, subset_pop=16, subset_gens=4,
                       top_n=8, surrogate="rbf", eval_chunk=4)
    run_search({"r": [32, 40], "w": [1.0], "n_classes": 10}, evaluate, cfg, run_dir=run_dir, adapter=adapter,
               objective_fns={"size": size})
    print("DONE")
    """
)


def launch(script: Path, run_dir: Path, kill_after: int, log: Path, delay: float = 0.0, hold_after: int = -1) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(run_dir), str(kill_after), str(log), str(delay), str(hold_after)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def final_archive(run_dir: Path) -> list:
    entries = read_json(run_dir / "search" / "iter_003" / "archive.json")["entries"]
    return [(json.dumps(e["config"], sort_keys=True), e["acc"], e["iteration"], e["evaluated"]) for e in entries]


def journal_evals(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / "search" / "journal.jsonl").read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    return [(r["step"], r["key"]) for r in recs if r["type"] == "eval"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run (separate process, same seed)."""
    root = tmp_path_factory.mktemp("resume")
    script = root / "search_job.py"
    script.write_text(SCRIPT)
    ref_dir = root / "uninterrupted"
    proc = launch(script, ref_dir, -1, root / "ref.log")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "DONE" in out, err
    return script, ref_dir


def test_sigkill_inside_evaluation_then_resume_equals_uninterrupted(reference, tmp_path):
    script, ref_dir = reference
    run_dir, log = tmp_path / "killed", tmp_path / "killed.log"
    kills = 0
    for kill_after in (10, 14, 9):  # mid pre-processing, then mid search, then during a re-evaluation or later
        proc = launch(script, run_dir, kill_after, log)
        out, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, err
        kills += 1
    assert kills >= 2
    proc = launch(script, run_dir, -1, log)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "DONE" in out, err

    assert final_archive(run_dir) == final_archive(ref_dir)
    evals, ref_evals = journal_evals(run_dir), journal_evals(ref_dir)
    assert len(evals) == len(set(evals)) == len(ref_evals)  # nothing journaled twice, nothing lost
    assert sorted(evals) == sorted(ref_evals)
    # only the chunks being evaluated at each kill were started twice (one chunk = at most 4 subnets)
    started = len(log.read_text().splitlines())
    assert len(evals) <= started <= len(evals) + 4 * kills
    assert read_json(run_dir / "search" / "non_dominated.json") == read_json(ref_dir / "search" / "non_dominated.json")


def test_sigkill_at_arbitrary_moments_then_resume_equals_uninterrupted(reference, tmp_path):
    script, ref_dir = reference
    run_dir, log = tmp_path / "killed", tmp_path / "killed.log"
    journal = run_dir / "search" / "journal.jsonl"
    for threshold in (8, 30):  # kill from outside once the journal has grown past these many records
        # the job keeps running (journal writes, surrogate, EMO, archive files) until its next evaluation after
        # threshold + 6 records, where it waits: the kill lands at whatever it was doing when the test saw the
        # threshold, and never depends on how fast this machine is
        proc = launch(script, run_dir, -1, log, delay=0.01, hold_after=threshold + 6)
        while proc.poll() is None:
            if journal.exists() and len(journal.read_bytes().splitlines()) > threshold:
                break
            time.sleep(0.005)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    proc = launch(script, run_dir, -1, log)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "DONE" in out, err
    assert final_archive(run_dir) == final_archive(ref_dir)
    evals = journal_evals(run_dir)
    assert len(evals) == len(set(evals)) and sorted(evals) == sorted(journal_evals(ref_dir))


def test_journal_cuts_a_torn_last_line(tmp_path):
    path = tmp_path / "journal.jsonl"
    j = Journal(path)
    j.append([{"type": "adapt", "iteration": 1, "changed": True}])
    with open(path, "a") as fh:
        fh.write('{"type": "eval", "step": "init", "ke')  # a crash mid-write
    j2 = Journal(path)
    assert j2.event("adapt", 1)["changed"] is True and not j2.evals
    assert path.read_text().endswith("}\n")
    j2.append([{"type": "adapt", "iteration": 2, "changed": False}])
    assert Journal(path).event("adapt", 2) == {"type": "adapt", "iteration": 2, "changed": False}
    assert collections.Counter(line[:9] for line in path.read_text().splitlines()) == {'{"type":"': 2}


def test_a_resumed_search_reports_the_time_its_evaluations_really_took(reference, tmp_path):
    """history.json's evaluate / reeval seconds of a replayed iteration are what the evaluations cost when
    they ran (journaled per evaluation), not the near-zero cost of reading the journal back."""
    script, _ = reference
    run_dir, log = tmp_path / "timed", tmp_path / "timed.log"

    def timings() -> list[dict]:
        return [it["timings"] for it in read_json(run_dir / "search" / "history.json")["iterations"]]

    for _ in range(2):  # the first run evaluates (20 ms per subnet); the second replays the finished journal
        proc = launch(script, run_dir, -1, log, delay=0.02)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and "DONE" in out, err
        if _ == 0:
            first = timings()
    again = timings()
    assert len(log.read_text().splitlines()) == len(journal_evals(run_dir))  # the second run evaluated nothing
    for was, now in zip(first, again):
        for key in ("evaluate", "reeval"):
            if key in was:
                assert was[key] > 0.05 and now[key] >= 0.9 * was[key], (key, was, now)
