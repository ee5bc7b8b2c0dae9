"""`load_config`: defaults <- YAML file or dict <- `--set` overrides, validated into a dataclass."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from natv2.config.convert import Converter, is_config_class
from natv2.config.presets import preset_layers
from natv2.config.sources import Layer, file_layers, layers_from_data, merge_layers, override_layers

T = TypeVar("T")




def config_file_layers(path: str | os.PathLike[str]) -> list[Layer]:
    """Layers of a YAML config file, following its `extends:` chain (presets or relative files)."""
    return file_layers(Path(path), preset_layers)


def dict_layers(data: Mapping[str, Any], origin: str = "the given settings") -> list[Layer]:
    """Config layers (preset chain included) of a settings mapping, as `resolve_config` stacks them."""
    return layers_from_data(data, origin, None, preset_layers)


def _source_layers(source: Any) -> list[Layer]:
    if source is None:
        return []
    if isinstance(source, Layer):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        return config_file_layers(source)
    if isinstance(source, Mapping):
        return dict_layers(source)
    if isinstance(source, Sequence) and all(isinstance(x, Layer) for x in source):
        return list(source)
    raise TypeError(f"config source must be a path, a mapping or layers, not {type(source).__name__}")


def build_config(cls: type[T], layers: Iterable[Layer]) -> T:
    """Merge `layers` in order over the dataclass defaults of `cls` and validate the result."""
    if not is_config_class(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    merged, origins = merge_layers(layers)
    return Converter(origins).build(cls, merged)


def load_config(cls: type[T], source: Any = None, overrides: Iterable[str] = ()) -> T:
    """Config of type `cls` from a YAML path or dict (or None: defaults), then `KEY=VALUE` overrides.

    Unknown keys, wrong types and out-of-range values raise `ConfigError` naming the dotted key,
    the value, where it came from and what is allowed.
    """
    return build_config(cls, _source_layers(source) + override_layers(overrides))
