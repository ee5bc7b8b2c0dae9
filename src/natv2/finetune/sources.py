"""Where the post-processing stage finds the supernet in a run directory.

Subnets are extracted from the *final* supernet: the one the search adapted, if the search saved
one, else the trained one. Supernets are `save_supernet` pairs (`<stem>.safetensors` + `<stem>.json`).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from natv2.errors import RunDirError

# Most recent stage first: adapted by the search, then trained (train-supernet writes `supernet`).
SUPERNET_STEMS = ("search/supernet", "supernet", "train/supernet", "checkpoints/supernet")


def find_supernet(run_dir: str | Path, explicit: str | None = None) -> Path:
    """The stem of the supernet checkpoint to post-process from."""
    root = Path(run_dir)
    if explicit:
        p = Path(explicit)
        p = p if p.is_absolute() or p.exists() else root / p
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        if not stem.with_name(stem.name + ".json").is_file():
            raise RunDirError(f"supernet checkpoint '{explicit}' not found (looked for {stem}.json)",
                              "set finetune.supernet to the stem written by natv2 train-supernet / search")
        return stem
    iters = sorted((root / "search").glob("iter_*/supernet.json"))
    candidates = [root / s for s in SUPERNET_STEMS[:1]] + [p.with_suffix("") for p in reversed(iters)] + \
                 [root / s for s in SUPERNET_STEMS[1:]]
    for stem in candidates:
        if stem.with_name(stem.name + ".json").is_file() and stem.with_name(stem.name + ".safetensors").is_file():
            return stem
    raise RunDirError(f"run directory '{root}' holds no supernet checkpoint (looked for {', '.join(SUPERNET_STEMS)})",
                      "train one first (natv2 train-supernet), or set finetune.supernet to a checkpoint stem")


def load_final_supernet(run_dir: str | Path, explicit: str | None = None) -> tuple[nn.Module, Path]:
    from natv2.supernets import load_supernet

    stem = find_supernet(run_dir, explicit)
    return load_supernet(stem).eval(), stem
