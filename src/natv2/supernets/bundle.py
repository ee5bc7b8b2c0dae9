"""safetensors + JSON bundles that rebuild with natv2 alone: `save_bundle` and `load_model`.

The network is saved with natv2.supernets' `save_subnet` (`<stem>.safetensors` weights,
`<stem>.json` static config + metadata). A multi-exit (AEP) model saves its body that way and
records its exits and output weights in the metadata under `wrapper`, so `load_model` rebuilds
the same ensemble. The metadata is also written into the safetensors header (key `natv2`), so the
weights file describes itself even when it travels alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from safetensors.torch import save_file
from torch import nn

from natv2.errors import CheckpointError
from natv2.io.artifacts import EXPORT_STEM
from natv2.io.atomic import atomic_write_with
from natv2.nn.multi_exit import MultiExitEnsemble

STEM = EXPORT_STEM
WRAPPER_KEY = "wrapper"


def _stem(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        return p / STEM
    if p.suffix in (".safetensors", ".json", ".onnx", ".pt"):
        return p.with_suffix("")
    return p


def save_bundle(model: nn.Module, stem: str | Path, metadata: Mapping[str, Any]) -> dict[str, Path]:
    """Write `<stem>.safetensors` + `<stem>.json`; returns {"safetensors": ..., "json": ...}."""
    from natv2.supernets.checkpoint import save_subnet

    meta = dict(metadata)
    net = model
    if isinstance(model, MultiExitEnsemble):
        meta[WRAPPER_KEY] = {"kind": "multi_exit", "exits": list(model.exits), "beta": model.beta.tolist()}
        net = model.body
    weights, config = save_subnet(net, stem, meta)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    header = {"natv2": json.dumps(meta, sort_keys=True), "format": "pt"}
    atomic_write_with(weights, lambda tmp: save_file(state, tmp, metadata=header))
    return {"safetensors": weights, "json": config}


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata saved with a bundle (from its JSON)."""
    from natv2.supernets.checkpoint import read_subnet_meta

    return read_subnet_meta(_stem(path))


def load_model(path: str | Path, map_location: str = "cpu") -> nn.Module:
    """Rebuild an exported or fine-tuned natv2 model from its folder, stem, .safetensors or .json.

    Returns the network in eval mode with its metadata as `.meta`: a plain static network, or a
    `MultiExitEnsemble` (forward = ensembled logits, forward_exits = every exit's logits).
    """
    from natv2.supernets.checkpoint import load_subnet

    stem = _stem(path)
    if not stem.with_name(stem.name + ".json").exists():
        raise CheckpointError(f"no natv2 model at '{path}' (looked for {stem}.json)",
                              "pass a model folder written by `natv2 export` / `natv2 finetune`, or its .safetensors")
    net = load_subnet(stem, map_location=map_location)
    meta = dict(getattr(net, "meta", {}) or {})
    wrapper = meta.get(WRAPPER_KEY)
    if wrapper is None:
        return net.eval()
    if wrapper.get("kind") != "multi_exit":
        raise CheckpointError(f"model '{path}' uses an unknown wrapper {wrapper.get('kind')!r}",
                              "load it with the natv2 version that wrote it")
    model = MultiExitEnsemble(net, wrapper["beta"], wrapper["exits"])
    model.meta = meta
    return model.eval()
