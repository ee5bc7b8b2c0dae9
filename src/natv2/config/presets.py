"""Presets: named YAML configs shipped inside the package (src/natv2/config/presets/NAME.yaml).

A preset is an ordinary config file; it may `extends:` another preset and carries a one-line
`description:`. Adding a preset is adding a file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from natv2.config.sources import Layer, as_mapping, layers_from_data, merge_layers, parse_yaml
from natv2.errors import ConfigError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_PRESET_SUFFIX = ".yaml"


@dataclass(frozen=True)
class PresetInfo:
    """One shipped preset: its name, one-line description and the YAML file it is read from."""
    name: str
    description: str
    location: str


def _preset_dir() -> Traversable:
    return resources.files("natv2.config").joinpath("presets")


def _preset_file(name: str) -> Traversable:
    return _preset_dir().joinpath(name + _PRESET_SUFFIX)


def preset_names() -> list[str]:
    """Names of the shipped presets (the YAML files in natv2/config/presets), sorted."""
    folder = _preset_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(_PRESET_SUFFIX)] for p in folder.iterdir() if p.name.endswith(_PRESET_SUFFIX))


def _read(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown preset '{name}'", f"{hint}presets shipped with natv2: {', '.join(names) or 'none'}")
    origin = f"preset '{name}'"
    return as_mapping(parse_yaml(_preset_file(name).read_text(encoding="utf-8"), origin), origin)


def preset_layers(name: str, seen: tuple[str, ...] = ()) -> list[Layer]:
    """The layers of preset `name`, the presets it extends first."""
    ident = f"preset:{name}"
    if ident in seen:
        raise ConfigError(f"preset '{name}' extends itself (cycle: {' -> '.join(seen + (ident,))})",
                          "remove the cycle in the presets' `extends:` chain")
    return layers_from_data(_read(name), f"preset '{name}'", None, preset_layers, seen + (ident,))


def load_preset(name: str) -> dict[str, Any]:
    """Preset `name` as one merged plain dict (not yet validated against a schema)."""
    return merge_layers(preset_layers(name))[0]


def list_presets() -> list[PresetInfo]:
    """Every shipped preset with its description, by name (what `natv2 presets` prints)."""
    out = []
    for name in preset_names():
        data = _read(name)
        out.append(PresetInfo(name, str(data.get("description", "")).strip(), str(_preset_file(name))))
    return out
