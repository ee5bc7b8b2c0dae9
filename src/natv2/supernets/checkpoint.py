"""Safe checkpoints: weights as safetensors, structure as JSON. Never pickle.

A subnet is saved as `<stem>.safetensors` + `<stem>.json` (static config + user metadata) and loads
back without the supernet. A supernet is saved the same way with its `arch_dict()`.
"""

from __future__ import annotations

import json
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from natv2.errors import CheckpointError, RunDirError
from natv2.io.artifacts import REL_ADAPTED_SUPERNET, REL_TRAINED_SUPERNET, Layout
from natv2.io.atomic import atomic_write_json, atomic_write_with
from natv2.nn.network import StaticNet, build_static_net

SUBNET_FORMAT = "natv2-subnet"
SUPERNET_FORMAT = "natv2-supernet-checkpoint"


def _paths(path_stem: str | Path) -> tuple[Path, Path]:
    p = Path(path_stem)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def state_tensors(module_or_state: nn.Module | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A module's (or a state dict's) tensors as safetensors stores them: detached, on the CPU, contiguous."""
    sd = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    return {k: v.detach().to("cpu").contiguous() for k, v in sd.items()}


def save_weights(module_or_state: nn.Module | Mapping[str, torch.Tensor], path: str | Path) -> Path:
    """Write a module's state dict (or a state dict) as safetensors, atomically."""
    state = state_tensors(module_or_state)
    return atomic_write_with(path, lambda tmp: save_file(state, tmp))


def same_weights(path: Path, module: nn.Module) -> bool:
    """Whether the safetensors file `path` holds exactly `module`'s state (names, shapes, dtypes, values)."""
    if not path.is_file():
        return False
    try:
        saved = load_file(str(path))
    except (OSError, SafetensorError):
        return False
    current = state_tensors(module)
    return saved.keys() == current.keys() and all(
        saved[k].dtype == v.dtype and saved[k].shape == v.shape and torch.equal(saved[k], v) for k, v in current.items())


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint file {path} does not exist", "check the path")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read safetensors file {path}: {exc}", "re-save the checkpoint with natv2") from None


def load_weights_checked(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `module`, refusing missing / unexpected tensors and shape mismatches by name."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''} ({len(missing)} in all)")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''} ({len(unexpected)} in all)")
        raise CheckpointError(f"checkpoint {source} does not match the model: " + "; ".join(parts), "load it into the model it was saved from")
    bad = [
        f"tensor '{key}' has shape {tuple(state[key].shape)}, the model expects {tuple(ref.shape)}"
        for key, ref in own.items()
        if tuple(state[key].shape) != tuple(ref.shape)
    ]
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise CheckpointError(
            f"checkpoint {source}: " + "; ".join(bad[:3]) + more,
            "load it into the model (width, classes, search space) it was saved from",
        )
    module.load_state_dict(dict(state), strict=True)


def load_weights(path: str | Path, module: nn.Module) -> None:
    """Load a safetensors file into `module` (any device, any memory format), every tensor checked by name."""
    load_weights_checked(module, read_weights(path), str(path))


# ----------------------------------------------------------------------------- subnets
def save_subnet(module: StaticNet, path_stem: str | Path, meta: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Save an extracted network: `<stem>.safetensors` (weights) and `<stem>.json` (config + `meta`)."""
    if not isinstance(module, StaticNet):
        raise CheckpointError(f"save_subnet expects an extracted StaticNet, got {type(module).__name__}", "call supernet.extract_subnet() first")
    weights, config = _paths(path_stem)
    doc = {"format": SUBNET_FORMAT, "config": module.config, "meta": dict(meta or {})}
    json.dumps(doc)  # fail before writing anything if meta is not JSON-able
    save_weights(module, weights)
    atomic_write_json(config, doc)
    return weights, config


def read_subnet_meta(path: str | Path) -> dict[str, Any]:
    """The `meta` mapping saved with a subnet (its config, dataset and provenance), without loading its weights."""
    _, config = _paths(path)
    return _read_doc(config)["meta"]


def _read_doc(config: Path) -> dict[str, Any]:
    if not config.exists():
        raise CheckpointError(f"subnet config {config} does not exist", "pass the stem or either file of a saved subnet")
    doc = _read_json_object(config, "subnet config", "re-export the model (natv2 export RUN), or pass a file written by save_subnet")
    if doc.get("format") != SUBNET_FORMAT:
        raise CheckpointError(f"{config} is not a natv2 subnet config (format={doc.get('format')!r})", "pass a file written by save_subnet")
    return doc


def _read_json_object(path: Path, what: str, fix: str) -> dict[str, Any]:
    """A JSON file whose top level is an object; a truncated, foreign or unreadable one is a CheckpointError."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{what} {path} is not valid JSON (truncated or not a natv2 file): {exc}", fix) from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"{what} {path} is not a natv2 file: its top level is a JSON {type(doc).__name__}, "
                              "not an object", fix)
    return doc


def load_subnet(path: str | Path, map_location: str | torch.device = "cpu") -> StaticNet:
    """Rebuild a saved subnet from its JSON config and load its weights (shape-checked). Mode: eval."""
    weights, config = _paths(path)
    doc = _read_doc(config)
    try:
        net = build_static_net(doc["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"subnet config {config} is malformed: {exc}", "re-save the subnet with natv2") from None
    load_weights_checked(net, read_weights(weights), str(weights))
    net.meta = doc.get("meta", {})
    return net.to(map_location).eval()


# ----------------------------------------------------------------------------- supernets
def save_supernet(supernet: nn.Module, path_stem: str | Path, meta: Mapping[str, Any] | None = None) -> tuple[Path, Path]:
    """Save supernet weights (`<stem>.safetensors`) and its description (`<stem>.json`)."""
    weights, config = _paths(path_stem)
    doc = {"format": SUPERNET_FORMAT, "arch": supernet.arch_dict(), "meta": dict(meta or {})}
    json.dumps(doc)
    save_weights(supernet, weights)
    atomic_write_json(config, doc)
    return weights, config


def load_supernet_weights(supernet: nn.Module, path: str | Path) -> nn.Module:
    """Load saved weights into an existing supernet; every tensor's name and shape must match."""
    weights, _ = _paths(path)
    load_weights_checked(supernet, read_weights(weights), str(weights))
    return supernet


def load_supernet(path: str | Path) -> nn.Module:
    """Rebuild a saved supernet from its JSON description and load its weights."""
    from natv2.supernets.registry import create_from_arch

    weights, config = _paths(path)
    if not config.exists():
        raise CheckpointError(f"supernet description {config} does not exist", "pass the stem of a checkpoint written by save_supernet")
    fix = f"pass the stem of a supernet written by natv2 train-supernet (e.g. RUN/{REL_TRAINED_SUPERNET}), or train one again"
    doc = _read_json_object(config, "supernet description", fix)
    if doc.get("format") != SUPERNET_FORMAT or not isinstance(doc.get("arch"), dict):
        raise CheckpointError(f"{config} is not a natv2 supernet description "
                              f"(format={doc.get('format')!r}, expected {SUPERNET_FORMAT!r} with an 'arch' object)", fix)
    try:
        net = create_from_arch(doc["arch"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"supernet description {config} is malformed ({type(exc).__name__}: {exc})", fix) from None
    return load_supernet_weights(net, weights)


# ---------------------------------------------------------------------- a run's supernet checkpoints
def _is_checkpoint(stem: Path) -> bool:
    return stem.with_name(stem.name + ".json").is_file() and stem.with_name(stem.name + ".safetensors").is_file()


@dataclass(frozen=True)
class TrainedSupernet:
    """A supernet checkpoint of a run (`save_supernet` pair); `adapted`: the search's, not training's."""

    stem: Path
    adapted: bool

    @classmethod
    def find(cls, root: str | Path, *, adapted: bool) -> "TrainedSupernet | None":
        """The most recent supernet of the run: the search's adapted one (when `adapted`), else the trained one.

        This is the one lookup list for every stage: the search starts from the trained supernet;
        fine-tuning and export extract from the final (adapted if the search saved one) supernet.
        """
        lay = Layout(root)
        order = ((lay.adapted_supernet, True), (lay.trained_supernet, False)) if adapted else ((lay.trained_supernet, False),)
        for stem, is_adapted in order:
            if _is_checkpoint(stem):
                return cls(stem, is_adapted)
        return None

    @classmethod
    def given(cls, path: str | Path, root: str | Path, fix: str) -> "TrainedSupernet":
        """A checkpoint named by the user (stem, .json or .safetensors; relative to the working directory
        when it is there, else to the run directory); RunDirError with `fix` when it is not a checkpoint."""
        stem = cls.stem_of(path, root)
        if not _is_checkpoint(stem):
            raise RunDirError(f"supernet checkpoint '{path}' not found (looked for {stem}.json and .safetensors)", fix)
        return cls(stem, stem == Layout(root).adapted_supernet)

    @staticmethod
    def stem_of(path: str | Path, root: str | Path | None) -> Path:
        """The stem a user's supernet path names (where `given` looks), whether or not it exists."""
        p = Path(path)
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        return stem if stem.is_absolute() or _is_checkpoint(stem) or root is None else Path(root) / stem

    @staticmethod
    def is_checkpoint(stem: str | Path) -> bool:
        return _is_checkpoint(Path(stem))

    @staticmethod
    def looked_for(*, adapted: bool) -> str:
        return ", ".join(([REL_ADAPTED_SUPERNET] if adapted else []) + [REL_TRAINED_SUPERNET])

    def load(self) -> Any:
        from natv2.supernets import load_supernet

        return load_supernet(self.stem)
