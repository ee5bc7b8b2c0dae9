"""Typed configs over plain dataclasses: YAML in and out, `--set key=value` overrides, presets.

Define a section as a (preferably frozen) dataclass with defaults; field types may be bool, int,
float, str, Path, Literal[...], X | None, unions, list/tuple/dict of those, or nested dataclasses.
Put range checks in `__post_init__` and raise `FieldError(field, value, allowed)`; the loader adds
the full dotted key. Use `field(metadata={"help": "...", "volatile": True})` to document a key and
to mark settings that do not change results (allowed to differ when a run is resumed).

    cfg = load_config(MyConfig, "my.yaml", ["train.epochs=5", "search_stage.space.r=[32]"])
    text = to_yaml(cfg)                       # load_config(MyConfig, yaml.safe_load(text)) == cfg
"""

from natv2.config.convert import Converter, FieldError, describe
from natv2.config.loader import build_config, config_file_layers, dict_layers, load_config
from natv2.config.presets import PresetInfo, list_presets, load_preset, preset_layers, preset_names
from natv2.config.schema import Change, KeyInfo, diff, dump_yaml, flatten, schema_keys, to_dict, to_plain, to_yaml, volatile_keys
from natv2.config.sources import Layer, merge_layers, override_layers, parse_override, parse_yaml, read_yaml_file, values_layer
from natv2.errors import ConfigError

__all__ = [
    "Change",
    "ConfigError",
    "Converter",
    "FieldError",
    "KeyInfo",
    "Layer",
    "PresetInfo",
    "build_config",
    "config_file_layers",
    "describe",
    "dict_layers",
    "diff",
    "dump_yaml",
    "flatten",
    "list_presets",
    "load_config",
    "load_preset",
    "merge_layers",
    "override_layers",
    "parse_override",
    "parse_yaml",
    "preset_layers",
    "preset_names",
    "read_yaml_file",
    "schema_keys",
    "to_dict",
    "to_plain",
    "to_yaml",
    "values_layer",
    "volatile_keys",
]
