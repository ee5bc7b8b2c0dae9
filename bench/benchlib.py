"""What the benchmark scripts share: where the CIFAR-10 folder is, the search's evaluation data, and
appending a result table to bench/RESULTS.md. (Run as `python bench/<script>.py`: this folder is on sys.path.)"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


def data_root() -> Path:
    """The folder holding cifar10/: $NATV2_TEST_DATA, else ../shared/data beside the checkout."""
    env = os.environ.get("NATV2_TEST_DATA")
    return Path(env) if env else ROOT.parent / "shared" / "data"


def cifar10_eval_data(seed: int = 0):
    """CIFAR-10 as the search evaluates it: 5,000 validation images, BN re-calibration on 960 training
    images in batches of 100, evaluation batches of 500 (the cifar10 preset's protocol)."""
    from natv2.data import DataConfig, load_dataset
    from natv2.train.data import SplitsTrainingData

    cfg = DataConfig(name="cifar10", root=str(data_root() / "cifar10"), val_size=5000, calib_size=960,
                     calib_batch_size=100, eval_batch_size=500)
    return SplitsTrainingData(load_dataset(cfg), cfg, seed=seed)


def machine_line(load: float, threads: int, cmd: str) -> str:
    """The line every table starts with: machine, load when the run began, versions, threads, command."""
    import platform

    import torch

    return (f"Machine: {platform.machine()} ({os.cpu_count()} CPUs, load {load:.1f} at start), torch {torch.__version__}, "
            f"python {platform.python_version()}, {threads} torch thread(s). Command: `{cmd}`")


def publish(text: str, append: bool) -> None:
    """Print a result; with `append` (the scripts' --append), add it to bench/RESULTS.md too."""
    print(text)
    if append:
        with open(RESULTS, "a", encoding="utf-8") as fh:
            fh.write(text + "\n")
