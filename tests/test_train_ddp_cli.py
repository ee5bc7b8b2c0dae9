"""`torchrun --nproc-per-node 2 … natv2 train-supernet` (gloo, CPU) computes what one process computes on the
same global batch, and a two-rank run SIGKILLed after its first checkpoint resumes to the uninterrupted weights.

Why the comparison can be exact (up to float summation order): data-parallel training averages per-rank
gradients, which equals the one-process gradient of the whole batch only if nothing else depends on how the
batch is split. Here nothing does: every training image is the same picture (labels differ, so gradients are not
trivial), hence BN's batch statistics are identical for any split of the batch; augmentation and dropout are off
(they draw per-rank randomness); subnets and resolutions are seeded per step, identical on every rank; and the
loaders' rank shards (perm[rank::2]) put together are exactly the one-process batch (perm[step*16:(step+1)*16]).
A missing division by the world size doubles every update, a missing all-reduce leaves rank 0 with half the
labels' gradient, no training leaves the weights where they started: each moves the result by the size of
the update itself, more than 30 times the tolerance (1 % of the update; measured 0.09 % with float rounding amplified
by BN channels of low variance).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


pytestmark = pytest.mark.slow  # ~35 s on 2 cores: four torchrun launches, each starting fresh interpreters

WRAPPER = textwrap.dedent(
    """
    # natv2's CLI, with one test hook: NATV2_TEST_KILL_AT=<checkpoint tag> SIGKILLs this process right after
    # it wrote that checkpoint (only rank 0 writes checkpoints).
    import os, signal, sys
    from natv2.train.checkpoint import CheckpointStore

    tag_to_kill = os.environ.get("NATV2_TEST_KILL_AT")
    real_save = CheckpointStore.save

    def save(self, tag, *args, **kwargs):
        real_save(self, tag, *args, **kwargs)
        if tag == tag_to_kill:
            os.kill(os.getpid(), signal.SIGKILL)

    CheckpointStore.save = save
    from natv2.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


RES = 96  # the last stage still sees 3 x 3 positions: BN variances stay well above zero for one picture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(root: Path, batch: int) -> list[str]:
    sets = {
        "data.name": "imagefolder", "data.root": str(root), "data.val_size": 8, "data.train_subset": "null", "data.batch_size": batch,
        "data.augment": "none", "data.hflip": "false", "data.calib_size": 8, "data.calib_batch_size": 8,
        "data.eval_batch_size": 8, "train.supernet": "ofa_mbv3", "train.space.r": f"[{RES}]",
        "train.only_phases": "[full,kernel]", "train.dropout": 0.0,
        "train.phase_overrides.full.epochs": 1, "train.phase_overrides.full.warmup_epochs": 0,
        "train.phase_overrides.kernel.epochs": 1, "train.phase_overrides.kernel.warmup_epochs": 0,
        "train.steps_per_epoch": 2, "train.val_random": 1, "train.val_max_batches": 1, "train.val_per_dim": "false",
        "run.progress": "false", "run.threads": 1, "run.device": "cpu",
    }
    return [x for k, v in sets.items() for x in ("--set", f"{k}={v}")]


@pytest.fixture(scope="module")
def same_picture(tmp_path_factory) -> Path:
    """64 copies of one random 32 px picture in 4 class folders."""
    root = tmp_path_factory.mktemp("same_picture")
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for c in range(4):
        (root / "train" / f"class{c}").mkdir(parents=True)
        for i in range(16):
            Image.fromarray(pixels).save(root / "train" / f"class{c}" / f"{i}.png")
    return root


def _launch(tmp: Path, run_dir: Path, data: Path, nproc: int, *extra: str, kill_at: str | None = None):
    wrapper = tmp / "natv2_cli.py"
    wrapper.write_text(WRAPPER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    env.pop("NATV2_TEST_KILL_AT", None)
    if kill_at:
        env["NATV2_TEST_KILL_AT"] = kill_at
    batch = 16 // nproc  # the same global batch of 16
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), str(wrapper), "train-supernet", "--run-dir", str(run_dir),
           *extra, *_args(data, batch)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def _params(run_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    sd = load_file(str(run_dir / "train" / "supernet.safetensors"))
    return {k: v.double() for k, v in sd.items() if v.is_floating_point() and "running" not in k}


def _initial() -> dict[str, torch.Tensor]:
    """The weights training started from: the supernet built as train_supernet builds it (seed 0)."""
    from natv2.supernets import create

    torch.manual_seed(0)
    net = create("ofa_mbv3", 4, 1.0, dropout=0.0, r=[RES])
    return {k: v.detach().double() for k, v in net.state_dict().items() if v.is_floating_point() and "running" not in k}


def test_two_gloo_ranks_equal_one_process_on_the_same_global_batch_and_resume(tmp_path, same_picture):
    one = _launch(tmp_path, tmp_path / "one", same_picture, 1)
    assert one.returncode == 0, one.stderr[-3000:]
    two = _launch(tmp_path, tmp_path / "two", same_picture, 2)
    assert two.returncode == 0, two.stderr[-3000:]
    w1, w2, w0 = _params(tmp_path / "one"), _params(tmp_path / "two"), _initial()
    assert w1.keys() == w2.keys() and w0.keys() >= w1.keys()
    update = torch.cat([(w1[k] - w0[k]).flatten() for k in w1]).norm()
    gap = torch.cat([(w2[k] - w1[k]).flatten() for k in w1]).norm()
    assert update > 1e-3, "training did not move the weights"
    assert gap <= 1e-2 * update, f"two ranks differ from one process by {float(gap / update):.2e} of the update"

    # killed right after the first epoch's checkpoint (rank 0 dies, torchrun stops rank 1), then --resume
    killed = _launch(tmp_path, tmp_path / "killed", same_picture, 2, kill_at="p00e0001")
    assert killed.returncode != 0 and (tmp_path / "killed" / "checkpoints" / "state.json").exists()
    assert not (tmp_path / "killed" / "train" / "supernet.safetensors").exists()
    resumed = _launch(tmp_path, tmp_path / "killed", same_picture, 2, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    w3 = _params(tmp_path / "killed")
    assert all(torch.equal(w3[k], w2[k]) for k in w2), "the resumed two-rank run differs from the uninterrupted one"
