"""`StaticNet`: a plain (non-elastic) MobileNetV3-style network with one or several exits.

It is what `Supernet.extract_subnet` returns and what `load_subnet` rebuilds from its JSON config
alone (no supernet needed). Layers are rebuilt through a registry keyed by the config's "type".
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from natv2.errors import CheckpointError
from natv2.nn.layers import BNParams, ConvBNAct, ExitHead, MBConv, ParallelBlock, TransformBranch
from natv2.nn.stages import Stage
from natv2.registry import Registry

STATIC_FORMAT = "natv2-static-mbv3"
"""The `format` tag of a saved static subnet's JSON (a file with another tag is refused)."""
STATIC_VERSION = 1

LayerBuilder = Callable[[Mapping[str, Any], BNParams], nn.Module]
LAYER_BUILDERS: Registry[LayerBuilder] = Registry(
    "layer type", error=CheckpointError, fix="the model file was written by another natv2 version: load it with that one")


def register_layer(type_name: str) -> Callable[[LayerBuilder], LayerBuilder]:
    """Decorator: build config dicts of `"type": type_name` with the decorated function."""
    return LAYER_BUILDERS.register(type_name)


register_layer("conv")(ConvBNAct.from_config)
register_layer("mbconv")(MBConv.from_config)
register_layer("transform")(TransformBranch.from_config)
register_layer("exit")(ExitHead.from_config)


@register_layer("parallel")
def _build_parallel(c: Mapping[str, Any], bn: BNParams) -> ParallelBlock:
    return ParallelBlock({name: build_layer(spec, bn) for name, spec in c["branches"].items()})


def build_layer(config: Mapping[str, Any], bn: BNParams = BNParams()) -> nn.Module:
    """Build one layer from its config dict."""
    return LAYER_BUILDERS.get(config.get("type"))(config, bn)


class StaticNet(nn.Module):
    """first conv -> first block -> body stages -> exit head(s).

    `heads` maps a stage number (1-based) to the exit placed after it. `outputs` lists the exits
    returned, in that order, as a list of logits; None means a single-exit network returning one
    tensor. Only the stages up to the deepest exit are held.
    """

    def __init__(
        self,
        first_conv: nn.Module,
        first_block: nn.Module,
        stages: Sequence[Stage],
        heads: Mapping[int, ExitHead],
        outputs: Sequence[int] | None = None,
        bn: BNParams = BNParams(),
    ) -> None:
        super().__init__()
        if not heads:
            raise ValueError("a network needs at least one exit head")
        if max(heads) != len(stages):
            raise ValueError(f"the deepest exit ({max(heads)}) must follow the last stage ({len(stages)})")
        if outputs is None and len(heads) != 1:
            raise ValueError("several exit heads need an explicit `outputs` order")
        if outputs is not None and set(outputs) != set(heads):
            raise ValueError(f"outputs {list(outputs)} must name exactly the exit heads {sorted(heads)}")
        self.bn_params = bn
        # Convert inputs to channels_last on entry (faster on CPU, same results); set False to keep NCHW.
        self.channels_last = True
        self.first_conv = first_conv
        self.first_block = first_block
        self.stages = nn.ModuleList(stages)
        self.exits = nn.ModuleDict({str(k): heads[k] for k in sorted(heads)})
        self.outputs = None if outputs is None else [int(o) for o in outputs]

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.first_block(self.first_conv(x))
        logits: dict[int, torch.Tensor] = {}
        exits = self.exits
        for s, stage in enumerate(self.stages, start=1):
            x = stage(x)
            key = str(s)
            if key in exits:
                logits[s] = exits[key](x)
        if self.outputs is None:
            return next(iter(logits.values()))
        return [logits[o] for o in self.outputs]

    @property
    def config(self) -> dict[str, Any]:
        return {
            "format": STATIC_FORMAT,
            "version": STATIC_VERSION,
            "bn": self.bn_params.to_dict(),
            "first_conv": self.first_conv.config,
            "first_block": self.first_block.config,
            "stages": [st.config for st in self.stages],
            "exits": {k: head.config for k, head in self.exits.items()},
            "outputs": self.outputs,
        }


def build_static_net(config: Mapping[str, Any]) -> StaticNet:
    """Rebuild a `StaticNet` (random weights) from its `config`."""
    if config.get("format") != STATIC_FORMAT:
        raise ValueError(f"not a {STATIC_FORMAT} config (format={config.get('format')!r})")
    if int(config.get("version", 0)) > STATIC_VERSION:
        raise ValueError(f"config version {config.get('version')} is newer than this natv2 ({STATIC_VERSION})")
    bn = BNParams.from_dict(config.get("bn"))
    stages = [Stage([build_layer(b, bn) for b in st["blocks"]], st.get("dense", False)) for st in config["stages"]]
    heads = {int(k): build_layer(v, bn) for k, v in config["exits"].items()}
    return StaticNet(
        build_layer(config["first_conv"], bn), build_layer(config["first_block"], bn), stages, heads, config.get("outputs"), bn
    )
