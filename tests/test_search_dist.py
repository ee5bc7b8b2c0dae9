"""Evaluation sharded across torchrun ranks (gloo): each rank evaluates half, all ranks see every result."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from natv2.search import ShardedEvaluate
from natv2.space import SearchSpace

SCRIPT = textwrap.dedent(
    """
    import json, math, os, sys
    import torch.distributed as dist
    from natv2.search import SearchConfig, run_search

    out_dir = sys.argv[1]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    mine = []

    def size(cfg):
        return float(sum(cfg.e[i] * cfg.ks[i] ** 2 for i in cfg.active_layer_indices()))

    def evaluate(cfgs):
        mine.extend(c.key for c in cfgs)
        return [0.3 + 0.6 * (1 - math.exp(-size(c) / 500)) for c in cfgs]

    cfg = SearchConfig(policy="natv2", objectives=("err", "size"), seed=1, archive_size=12, preprocess_multiplier=0,
                       candidates_per_iter=4, iterations=1, emo_pop=12, emo_gens=3, subset_pop=12, subset_gens=3,
                       top_n=8, surrogate="rbf", eval_chunk=6)
    res = run_search({"r": [32], "w": [1.0]}, evaluate, cfg, run_dir=sys.argv[2] if len(sys.argv) > 2 else None,
                     objective_fns={"size": size})
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as fh:
        json.dump({"evaluated": mine, "archive": [[e.config.to_json(), e.acc] for e in res.archive]}, fh)
    dist.destroy_process_group()
    """
)


def _free_port() -> int:
    """A port the OS just handed out (a fixed one collides with other jobs on the machine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sharded_evaluate_without_a_process_group_calls_through():
    space = SearchSpace(r=(32,))
    cfgs = [space.max_config(), space.min_config()]
    wrapped = ShardedEvaluate(lambda cs: [0.5 + 0.1 * i for i, _ in enumerate(cs)])
    assert wrapped(cfgs) == [0.5, 0.6] and wrapped.last_shard_size == 2


@pytest.mark.slow
def test_two_torchrun_ranks_split_evaluation(tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_dir = tmp_path / "run"
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", str(script), str(tmp_path), str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["archive"] == r1["archive"]  # every rank holds the full results
    assert not set(r0["evaluated"]) & set(r1["evaluated"])  # no subnet evaluated on both ranks
    total = len(r0["evaluated"]) + len(r1["evaluated"])
    assert total == 12 + 4 and abs(len(r0["evaluated"]) - len(r1["evaluated"])) <= 2
    # rank 0 alone wrote the journal, and it holds every evaluation once
    lines = (run_dir / "search" / "journal.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["type"] == "eval" for line in lines) == 16
    # same archive as a single-process run
    (tmp_path / "single").mkdir()
    one_rank = {**env, "RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single")], capture_output=True, text=True,
                            env=one_rank, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    r_single = json.loads((tmp_path / "single" / "rank0.json").read_text())
    assert r_single["archive"] == r0["archive"]
