"""Where config values come from: YAML files, presets, `--set key=value` overrides, plain dicts.

Each source becomes a `Layer` (plain nested data plus a label saying where it came from); layers are
deep-merged in order, later ones winning, and the label of every key is kept so that an error can
say "(from --set data.nme=x)" or "(from my.yaml)".

A YAML file may start from another with a top-level `extends:` (a preset name, or a path relative to
the file); `description:` is free text. Both are metadata, not settings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from natv2.config.convert import join_key, show
from natv2.errors import ConfigError

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and keeps dates as strings."""


_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {show(key)} (the later value would silently win)", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str, origin: str) -> Any:
    """YAML text -> data; syntax errors become a ConfigError naming `origin`, line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"cannot read YAML in {origin}{where}: {what}",
                          "fix the YAML syntax (indentation with spaces, `key: value`, lists as [a, b])") from None


@dataclass(frozen=True)
class Layer:
    """One source of settings: nested plain data and where it came from (for error messages)."""

    data: Mapping[str, Any]
    origin: str


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `top` (lists, scalars, null) replaces `base`."""
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _leaf_keys(data: Mapping[str, Any], prefix: str = "") -> Iterable[str]:
    for k, v in data.items():
        key = join_key(prefix, str(k))
        yield key
        if isinstance(v, Mapping):
            yield from _leaf_keys(v, key)


def merge_layers(layers: Iterable[Layer]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge layers in order; also return {dotted key: origin of its final value}."""
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        merged = deep_merge(merged, layer.data)
        for key in _leaf_keys(layer.data):
            origins[key] = layer.origin
    return merged, origins


# ---------------------------------------------------------------------- files
def as_mapping(data: Any, origin: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin} must hold a mapping of settings (key: value), not {type(data).__name__}",
                          "write the config as sections, e.g. `run:\\n  seed: 0`")
    return dict(data)


def read_yaml_file(path: str | Path) -> dict[str, Any]:
    """A YAML config file as a dict; missing file, folder or bad YAML -> ConfigError."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file '{p}' does not exist", "check the path given to --config")
    if p.is_dir():
        raise ConfigError(f"config path '{p}' is a folder, not a YAML file", "pass the YAML file itself")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file '{p}': {err}", "check the file's permissions and encoding") from None
    return as_mapping(parse_yaml(text, f"config file '{p}'"), f"config file '{p}'")


# Keys a later version renamed or moved: old dotted path -> new dotted path. Files written before (a run
# directory's saved config.yaml above all) and `--set` overrides keep working, the value under its new name.
RENAMED_KEYS: dict[str, str] = {
    "train.init_from": "train.source",
    "search.adaptation_epochs": "search_stage.adapt.epochs",  # every adaptation setting in one section
}


def _pop_path(data: dict[str, Any], path: list[str]) -> tuple[bool, Any]:
    """Remove `path` from nested dicts (copying each level it passes); (found, value)."""
    part = data.get(path[0])
    if len(path) == 1:
        return (path[0] in data, data.pop(path[0], None))
    if not isinstance(part, Mapping):
        return False, None
    part = dict(part)
    found, value = _pop_path(part, path[1:])
    if found:
        data[path[0]] = part
    return found, value


def _set_default(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Put `value` at `path` unless one is there already (copying each level it passes)."""
    for key in path[:-1]:
        child = data.get(key)
        data[key] = child = dict(child) if isinstance(child, Mapping) else {}
        data = child
    data.setdefault(path[-1], value)


def with_renamed_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with every old key of RENAMED_KEYS moved to its new place (the new one wins when both are given)."""
    out = dict(data)
    for old, new in RENAMED_KEYS.items():
        found, value = _pop_path(out, old.split("."))
        if found:
            _set_default(out, new.split("."), value)
    return out


def layers_from_data(data: Mapping[str, Any], origin: str, base_dir: Path | None,
                     preset_layers: Callable[[str, tuple[str, ...]], list[Layer]],
                     seen: tuple[str, ...] = ()) -> list[Layer]:
    """Layers for one file's data, its `extends:` chain first; meta keys removed."""
    data = with_renamed_keys(data)
    parent = data.pop("extends", None)
    data.pop("description", None)
    layers: list[Layer] = []
    if parent is not None:
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"`extends:` in {origin} must be a preset name or a YAML path, not {show(parent)}",
                              "write e.g. `extends: quickstart` or `extends: base.yaml`")
        if parent.endswith((".yaml", ".yml")) or "/" in parent:
            layers = file_layers((base_dir or Path.cwd()) / parent, preset_layers, seen)
        else:
            layers = preset_layers(parent, seen)
    return layers + [Layer(data, origin)]


def file_layers(path: str | Path, preset_layers: Callable[[str, tuple[str, ...]], list[Layer]],
                seen: tuple[str, ...] = ()) -> list[Layer]:
    p = Path(path)
    ident = str(p.resolve())
    if ident in seen:
        raise ConfigError(f"config file '{p}' extends itself (cycle: {' -> '.join(seen + (ident,))})",
                          "remove the cycle in the `extends:` chain")
    return layers_from_data(read_yaml_file(p), str(p), p.parent, preset_layers, seen + (ident,))


# ---------------------------------------------------------------------- overrides
def parse_override(text: str) -> tuple[str, Any]:
    """'search.iterations=10' -> ('search.iterations', 10); the value is read with YAML scalar rules."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _KEY_RE.match(key):
        raise ConfigError(f"cannot read override {show(text)}: expected KEY=VALUE with a dotted key",
                          "write e.g. --set search.iterations=10 or --set search_stage.space.r=[32]")
    value = parse_yaml(raw, f"the value of --set {text}") if raw.strip() else None
    return key, value


def nest(key: str, value: Any) -> dict[str, Any]:
    """('a.b.c', 1) -> {'a': {'b': {'c': 1}}}"""
    out: Any = value
    for part in reversed(key.split(".")):
        out = {part: out}
    return out


def override_layers(overrides: Iterable[str]) -> list[Layer]:
    """One layer per `--set` string, so each key's origin names the exact override."""
    layers = []
    for text in overrides:
        key, value = parse_override(text)
        layers.append(Layer(with_renamed_keys(nest(key, value)), f"--set {text}"))
    return layers


def values_layer(values: Mapping[str, Any], origin: str) -> Layer:
    """A layer from already-typed {dotted key: value} pairs (e.g. `--run-dir` given on the command line)."""
    merged: dict[str, Any] = {}
    for key, value in values.items():
        merged = deep_merge(merged, nest(key, value))
    return Layer(merged, origin)
