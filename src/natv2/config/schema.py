"""Config objects out: plain dicts and YAML that load back to an equal object, key listings, diffs.

Field metadata understood here (set with `dataclasses.field(metadata=...)`):
  help      one line shown by `natv2 config keys`;
  volatile  True for settings that do not change results (threads, progress bars, paths), so a run
            directory may be resumed with a different value (see `natv2.io.rundir`).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from natv2.config.convert import describe, init_fields, is_config_class, join_key, type_hints


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples, paths and enums -> dicts, lists and strings that YAML and JSON can hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_plain(value.value)
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """The config as nested plain dicts, in field order."""
    if not (dataclasses.is_dataclass(config) and not isinstance(config, type)):
        raise TypeError(f"to_dict expects a dataclass instance, got {type(config).__name__}")
    return to_plain(config)


class _Dumper(yaml.SafeDumper):
    """Block style for sections, flow style for short lists of scalars ([32, 40])."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(not isinstance(v, (list, dict)) for v in data) and len(data) <= 32
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump_yaml(data: Any, header: str | None = None) -> str:
    """YAML text of a config in key order (not sorted), with `header` as leading comment lines."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    return text


def to_yaml(config: Any, header: str | None = None) -> str:
    """YAML text that `load_config(type(config), ...)` reads back into an equal object."""
    return dump_yaml(to_dict(config), header)


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists are leaves."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = join_key(prefix, str(k))
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class KeyInfo:
    """One leaf setting of a config schema, for listings and docs."""

    key: str
    type: str
    default: Any
    help: str
    volatile: bool


_NO_DEFAULT = object()


def schema_keys(cls: type, prefix: str = "") -> list[KeyInfo]:
    """Every leaf key of dataclass `cls` with its type, default and help, depth first in field order."""
    out: list[KeyInfo] = []
    hints = type_hints(cls)
    for name, f in init_fields(cls).items():
        key, tp = join_key(prefix, name), hints[name]
        if is_config_class(tp):
            out.extend(schema_keys(tp, key))
            continue
        if f.default is not dataclasses.MISSING:
            default = to_plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = to_plain(f.default_factory())
        else:
            default = _NO_DEFAULT
        out.append(KeyInfo(key, describe(tp), default, str(f.metadata.get("help", "")),
                           bool(f.metadata.get("volatile", False))))
    return out


def is_required(info: KeyInfo) -> bool:
    return info.default is _NO_DEFAULT


def volatile_keys(cls: type) -> set[str]:
    """Dotted keys marked `volatile` (they may differ when a run is resumed)."""
    return {k.key for k in schema_keys(cls) if k.volatile}


@dataclass(frozen=True)
class Change:
    """One leaf setting that differs between two configs: its dotted key, the old value and the new one."""
    key: str
    old: Any
    new: Any


def diff(old: Any, new: Any, ignore: set[str] | frozenset[str] = frozenset()) -> list[Change]:
    """Leaf keys whose values differ between two configs (or plain dicts), skipping the keys in `ignore`."""
    a = flatten(old if isinstance(old, Mapping) else to_dict(old))
    b = flatten(new if isinstance(new, Mapping) else to_dict(new))
    missing = object()
    changes = []
    for key in list(a) + [k for k in b if k not in a]:
        if key in ignore:
            continue
        va, vb = a.get(key, missing), b.get(key, missing)
        if va != vb or type(va) is not type(vb):
            changes.append(Change(key, None if va is missing else va, None if vb is missing else vb))
    return changes
