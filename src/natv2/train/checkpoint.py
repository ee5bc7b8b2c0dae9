"""Training checkpoints without pickle: weights and optimiser tensors in safetensors, the rest JSON.

Layout of a checkpoint folder:
    state.json                          the commit point: which files form the latest checkpoint
    model-<tag>.safetensors             supernet parameters and buffers
    optim-<tag>.safetensors             optimiser state tensors (momentum buffers), keyed by index
    phases/<phase>/best.safetensors     best weights of the phase (+ best.json: metric, epoch)
    phases/<phase>/teacher.safetensors  the teacher the phase distils from
Files of a checkpoint are written first; `state.json` is replaced atomically last, so a crash at
any moment leaves the previous checkpoint intact and referenced. `state.json` holds the owner's record
(natv2.train.state.TrainState, the adapter's natv2.train.adapt.AdaptState), which the owner reads back with
its own class, and the store's `CheckpointFiles`, which only the store reads. A checkpoint's weights that equal the
phase's best weights of the same epoch are a hard link to them (one copy on disk), and the checkpoint
that completes a phase holds no optimiser state (the next phase starts a fresh optimiser).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol

import torch
from torch import nn

from natv2.io.artifacts import CHECKPOINT_STATE
from natv2.errors import CheckpointError
from natv2.io import atomic_write_json, read_json
from natv2.io.atomic import atomic_link
from natv2.supernets.checkpoint import load_weights, read_weights, same_weights, save_weights, state_tensors


def optimizer_to_files(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser state dict into tensors (safetensors) and JSON-able values."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return state_tensors(tensors), {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_files(opt: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, values in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(values)
    try:
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"optimiser state does not fit the model: {exc}", "resume with the same config") from exc


class StateRecord(Protocol):
    """What an owner checkpoints with its weights (TrainState, AdaptState): its fields, as JSON."""

    def to_dict(self) -> dict[str, Any]:
        """The record as written (the store adds its `CheckpointFiles`)."""


@dataclass(frozen=True)
class CheckpointFiles:
    """The store's part of the state file: the latest checkpoint's weights and optimiser state (file names
    relative to the folder; None after `finish`, or for a checkpoint saved without its optimiser)."""

    model_file: str | None = None
    optim_file: str | None = None
    optim_meta: dict[str, Any] | None = None  # the optimiser's JSON-able state (`optimizer_to_files`)

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> "CheckpointFiles":
        """The store's fields of a parsed state file (a missing one is None)."""
        return cls(state.get("model_file"), state.get("optim_file"), state.get("optim_meta"))

    def to_dict(self) -> dict[str, Any]:
        """The fields as the state file holds them."""
        return {"model_file": self.model_file, "optim_file": self.optim_file, "optim_meta": self.optim_meta}


class CheckpointStore:
    """Reads and writes the checkpoint folder of one training run (only rank 0 writes)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def state_path(self) -> Path:
        return self.root / CHECKPOINT_STATE

    def phase_dir(self, phase: str) -> Path:
        return self.root / "phases" / phase

    def prune_phases(self, keep: set[str]) -> list[str]:
        """Remove the per-phase folders (best weights, teacher) not named in `keep`; returns what went."""
        import shutil

        root = self.root / "phases"
        gone = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in keep) if root.is_dir() else []
        for name in gone:
            shutil.rmtree(root / name, ignore_errors=True)
        return gone

    def exists(self) -> bool:
        return self.state_path.exists()

    def read_state(self) -> dict[str, Any]:
        """The parsed state file, for its owner's class to read (`TrainState.from_dict`, `AdaptState.from_dict`)."""
        try:
            return read_json(self.state_path)
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read {self.state_path}: {exc}", "start a new run directory") from exc

    def files(self) -> CheckpointFiles:
        """The latest checkpoint's files (none before the first save)."""
        return CheckpointFiles.of(self.read_state()) if self.exists() else CheckpointFiles()

    def save(self, tag: str, model: nn.Module, optimizer: torch.optim.Optimizer | None, record: StateRecord,
             same_as: Path | None = None) -> None:
        """Write the tagged weight/optimiser files, then point state.json at them (with the owner's `record`);
        drop older files. `same_as`: a weights file that may hold exactly these weights (the phase's best of
        this epoch); if it does, the checkpoint's weights become a hard link to it instead of a second copy."""
        old = self.files()
        model_file = f"model-{tag}.safetensors"
        if not (same_as is not None and same_weights(same_as, model) and atomic_link(same_as, self.root / model_file)):
            save_weights(model, self.root / model_file)
        files = CheckpointFiles(model_file)
        if optimizer is not None:
            tensors, meta = optimizer_to_files(optimizer)
            files = CheckpointFiles(model_file, f"optim-{tag}.safetensors", meta)
            save_weights(tensors, self.root / str(files.optim_file))
        atomic_write_json(self.state_path, {**record.to_dict(), **files.to_dict()})
        for name, new in ((old.model_file, files.model_file), (old.optim_file, files.optim_file)):
            if name and name != new:
                (self.root / name).unlink(missing_ok=True)

    def share_model_file(self, other: Path, model: nn.Module) -> bool:
        """Make the latest checkpoint's weights file and `other` one file on disk (a hard link) when both
        hold exactly `model`'s weights, e.g. the search's adapted supernet written after its last
        adaptation. Resume reads the same bytes either way. True if they now share."""
        name = self.files().model_file
        if not name:
            return False
        mine = self.root / name
        if mine.is_file() and other.is_file() and os.path.samefile(mine, other):
            return True
        return same_weights(mine, model) and same_weights(other, model) and atomic_link(other, mine)

    def finish(self, supernet_file: str) -> list[str]:
        """Mark the training finished (the final supernet is `supernet_file`, written before this) and
        remove the resume weights and optimiser state, which nothing reads once training is over.
        Returns the removed file names. A kill between the two steps leaves files `remove_stale` drops."""
        atomic_write_json(self.state_path, dict(self.read_state(), finished=True, supernet_file=supernet_file,
                                                **CheckpointFiles().to_dict()))
        return self.remove_stale()

    def remove_stale(self) -> list[str]:
        """Weight / optimiser files state.json does not point at (left by a kill mid-save or by `finish`)."""
        files = self.files()
        live = {files.model_file, files.optim_file}
        gone = sorted(p.name for p in self.root.glob("*.safetensors") if p.name not in live)
        for name in gone:
            (self.root / name).unlink(missing_ok=True)
        return gone

    def load_model(self, model: nn.Module) -> None:
        """Load the latest checkpoint's weights into `model`."""
        files = self.files()
        if not files.model_file:
            raise CheckpointError(f"{self.state_path} points at no weights (the training finished, or never saved)",
                                  "use the run's trained supernet, or start a new run directory")
        load_weights(self.root / files.model_file, model)

    def load_optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        """Load the latest checkpoint's optimiser state into `optimizer`."""
        files = self.files()
        if not files.optim_file:
            raise CheckpointError("the checkpoint holds no optimiser state for this phase", "start the phase again")
        tensors = read_weights(self.root / files.optim_file)
        optimizer_from_files(optimizer, tensors, files.optim_meta or {})
