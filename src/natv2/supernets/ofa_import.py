"""Import weights saved from the `ofa` package's OFAMobileNetV3 (published OFA supernet checkpoints).

The key layout is translated by rules (no `ofa` import needed): `blocks.0` is the first block,
`blocks.1..20` the elastic blocks stage by stage, `final_expand_layer` / `feature_mix_layer` /
`classifier` the exit head. Both spellings OFA has used are accepted (`mobile_inverted_conv` vs `conv`,
`bn.bn` vs `bn`, `conv.conv` vs `conv`, `linear.linear` vs `linear`).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Mapping

import torch

from natv2.errors import CheckpointError
from natv2.space import N_STAGES
from natv2.supernets.checkpoint import load_weights_checked
from natv2.supernets.registry import create
from natv2.supernets.supernet import Supernet

_BN_FIELD = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
_PART = {"inverted_bottleneck": "expand", "depth_conv": "depthwise", "point_linear": "project"}

# (pattern on the tail of a block key, natv2 tail template)
_BLOCK_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(inverted_bottleneck|depth_conv|point_linear)\.conv(?:\.conv)?\.weight$"), "{part}.conv.weight"),
    (re.compile(r"^(inverted_bottleneck|depth_conv|point_linear)\.bn(?:\.bn)?\." + _BN_FIELD + "$"), "{part}.bn.{0}"),
    (re.compile(r"^(depth_conv)\.conv\.(\d+)to(\d+)_matrix$"), "{part}.transform_{0}to{1}"),
    (re.compile(r"^(depth_conv)\.se\.fc\.(reduce|expand)\.(weight|bias)$"), "se.{0}.{1}"),
)
_TOP_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^first_conv\.conv\.weight$"), "first_conv.conv.weight"),
    (re.compile(r"^first_conv\.bn\." + _BN_FIELD + "$"), "first_conv.bn.{0}"),
    (re.compile(r"^final_expand_layer\.conv\.weight$"), "exits.{exit}.final_expand.conv.weight"),
    (re.compile(r"^final_expand_layer\.bn\." + _BN_FIELD + "$"), "exits.{exit}.final_expand.bn.{0}"),
    (re.compile(r"^feature_mix_layer\.conv\.weight$"), "exits.{exit}.feature_mix.conv.weight"),
    (re.compile(r"^classifier\.linear(?:\.linear)?\.(weight|bias)$"), "exits.{exit}.classifier.{0}"),
)
_BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.conv\.(.+)$")


def _unwrap(state_dict: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    sd = state_dict
    if "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise CheckpointError(f"OFA state dict entry '{k}' is not a tensor ({type(v).__name__})", "pass the model's state_dict")
        k = k[len("module."):] if k.startswith("module.") else k
        out[k.replace(".mobile_inverted_conv.", ".conv.")] = v
    return out


def _translate_block_tail(tail: str) -> str | None:
    for pattern, template in _BLOCK_RULES:
        m = pattern.match(tail)
        if m:
            groups = m.groups()
            return template.format(*groups[1:], part=_PART[groups[0]])
    return None


def translate_ofa_keys(state_dict: Mapping[str, Any], blocks_per_stage: int, exit_stage: int = N_STAGES) -> dict[str, torch.Tensor]:
    """Map OFA OFAMobileNetV3 keys to natv2 `ofa_mbv3` keys; unknown keys raise CheckpointError."""
    sd = _unwrap(state_dict)
    out: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        new = None
        m = _BLOCK_KEY.match(key)
        if m:
            idx, tail = int(m.group(1)), m.group(2)
            t = _translate_block_tail(tail)
            if t is not None:
                if idx == 0:
                    new = "first_block." + t
                else:
                    s, j = divmod(idx - 1, blocks_per_stage)
                    if s >= N_STAGES:
                        raise CheckpointError(
                            f"OFA key '{key}' names block {idx}, but {N_STAGES} stages of {blocks_per_stage} blocks hold {N_STAGES * blocks_per_stage}",
                            "check the checkpoint's depth list against the space's d",
                        )
                    new = f"stages.{s}.blocks.{j}.{t}"
        else:
            for pattern, template in _TOP_RULES:
                mt = pattern.match(key)
                if mt:
                    new = template.format(*mt.groups(), exit=exit_stage)
                    break
        if new is None:
            raise CheckpointError(f"OFA state dict key '{key}' is not part of an OFAMobileNetV3", "pass an OFAMobileNetV3 state dict")
        out[new] = value
    return out


def _blocks_per_stage(sd: Mapping[str, torch.Tensor]) -> int:
    idx = {int(m.group(1)) for k in sd for m in [_BLOCK_KEY.match(k)] if m}
    n_elastic = max(idx) if idx else 0
    if n_elastic == 0 or n_elastic % N_STAGES:
        raise CheckpointError(f"OFA state dict has {n_elastic} elastic blocks; expected a multiple of {N_STAGES}", "pass an OFAMobileNetV3 state dict")
    return n_elastic // N_STAGES


def from_ofa_state_dict(state_dict: Mapping[str, Any], n_classes: int, width_mult: float = 1.0, **space: Any) -> Supernet:
    """An `ofa_mbv3` supernet holding the weights of an `ofa` OFAMobileNetV3 state dict.

    `space` overrides the search space (e.g. r=[32]); its largest kernel / expand ratio / depth must
    match the checkpoint's shapes. A classifier for another class count is left freshly initialised
    (with a warning); any other mismatch raises CheckpointError naming the tensor and shapes.
    """
    sd = _unwrap(state_dict)
    depth = _blocks_per_stage(sd)
    space.setdefault("d", tuple(d for d in (2, 3, 4) if d <= depth) if depth >= 2 else (depth,))
    net = create("ofa_mbv3", n_classes, width_mult, **space)
    if net.arch.max_depth != depth:
        raise CheckpointError(
            f"the OFA checkpoint has {depth} blocks per stage but the space's largest depth is {net.arch.max_depth}",
            f"include {depth} in the space's d",
        )
    mapped = translate_ofa_keys(sd, depth)
    own = net.state_dict()
    head = f"exits.{N_STAGES}.classifier."
    w_key = head + "weight"
    if w_key in mapped and mapped[w_key].shape[0] != own[w_key].shape[0] and mapped[w_key].shape[1] == own[w_key].shape[1]:
        warnings.warn(
            f"OFA checkpoint classifier has {mapped[w_key].shape[0]} classes, this supernet {n_classes}: "
            "the classifier is re-initialised (train it before use)",
            stacklevel=2,
        )
        mapped[w_key] = own[w_key]
        mapped[head + "bias"] = own[head + "bias"]
    for key in own:
        if key.endswith("num_batches_tracked") and key not in mapped:
            mapped[key] = own[key]
    load_weights_checked(net, mapped, "(OFA state dict)")
    net.set_max_net()
    return net
