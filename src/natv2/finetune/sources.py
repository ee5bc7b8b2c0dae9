"""Where the post-processing stage finds the supernet in a run directory.

Subnets are extracted from the *final* supernet: the one the search adapted, if the search saved
one, else the trained one. The lookup itself belongs to the run-directory contract
(natv2.supernets.checkpoint.TrainedSupernet), shared with the search stage.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from natv2.errors import RunDirError
from natv2.supernets.checkpoint import TrainedSupernet


def find_supernet(run_dir: str | Path, explicit: str | None = None) -> Path:
    """The stem of the supernet checkpoint to post-process from."""
    if explicit:
        return TrainedSupernet.given(explicit, run_dir,
                                     "set finetune.supernet to the stem written by natv2 train-supernet / search").stem
    found = TrainedSupernet.find(run_dir, adapted=True)
    if found is None:
        raise RunDirError(f"run directory '{run_dir}' holds no supernet checkpoint "
                          f"(looked for {TrainedSupernet.looked_for(adapted=True)})",
                          "train one first (natv2 train-supernet), or set finetune.supernet to a checkpoint stem")
    return found.stem


def load_final_supernet(run_dir: str | Path, explicit: str | None = None) -> tuple[nn.Module, Path]:
    from natv2.supernets import load_supernet

    stem = find_supernet(run_dir, explicit)
    return load_supernet(stem).eval(), stem
