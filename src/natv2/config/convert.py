"""Turn plain YAML data into typed dataclass configs, refusing anything the schema does not allow.

Every refusal is a `ConfigError` that names the full dotted key, the bad value, where the value came
from (a file, a preset, `--set`) and what is allowed, because a config typo is the most common way
a long run fails. Supported field types: bool, int, float, str, Path, None, Any, Literal[...],
unions (`X | None`, `float | int`), list[T], tuple[T, ...], tuple[A, B], dict/Mapping[str, T] and
nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union

from natv2.errors import ConfigError, NatError


class FieldError(ConfigError):
    """Raised by a config dataclass's `__post_init__` for a value of the right type but out of range.

    The loader re-raises it with the field's full dotted key and the origin of the value, so a
    section only needs to name its own field: `raise FieldError("val_size", v, "an int >= 1 or a
    float in (0, 1)")`.
    """

    def __init__(self, field: str, value: Any, allowed: str, fix: str = "") -> None:
        super().__init__(f"config key '{field}' = {show(value)} is not allowed: it must be {allowed}.",
                         fix or f"set '{field}' to {allowed}")
        self.field = field
        self.value = value
        self.allowed = allowed


def show(value: Any, limit: int = 80) -> str:
    """A value as the user would write it in YAML/JSON (null, true, "text"), cut to `limit` chars."""
    try:
        text = json.dumps(value, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@functools.lru_cache(maxsize=None)
def type_hints(cls: type) -> dict[str, Any]:
    """Resolved field annotations of a dataclass (string annotations from `__future__` evaluated)."""
    return typing.get_type_hints(cls)


def init_fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init}


def is_config_class(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def has_default(f: dataclasses.Field) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def describe(tp: Any) -> str:
    """What a value of type `tp` must look like, in words a user understands."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return "any value"
    if tp is type(None):
        return "null"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is Path:
        return "a path (string)"
    if origin is Literal:
        return "one of " + ", ".join(show(a) for a in args)
    if _is_union(tp):
        return " or ".join(describe(a) for a in args)
    if origin in (list, tuple) and (origin is list or (len(args) == 2 and args[1] is Ellipsis)):
        return f"a list whose items are each {describe(args[0])}" if args else "a list"
    if origin is tuple:
        return f"a list of {len(args)} items ({', '.join(describe(a) for a in args)})"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return f"a mapping of names to {describe(args[1])}" if args else "a mapping"
    if is_config_class(tp):
        return "a section (mapping) with keys " + ", ".join(init_fields(tp))
    return getattr(tp, "__name__", str(tp))


class _Mismatch(Exception):
    """Internal: `value` is not of the type tried; the caller decides what to report."""


class Converter:
    """Converts merged plain data into a config object; `origins` maps dotted keys to where they were set."""

    def __init__(self, origins: Mapping[str, str] | None = None) -> None:
        self.origins = dict(origins or {})

    # ------------------------------------------------------------------ reporting
    def origin_of(self, key: str) -> str:
        """Where `key` (or the nearest enclosing key that was set as a whole) got its value."""
        probe = key
        while probe:
            if probe in self.origins:
                return self.origins[probe]
            probe = probe.rsplit("[", 1)[0] if probe.endswith("]") else probe.rpartition(".")[0]
        return ""

    def _where(self, key: str) -> str:
        origin = self.origin_of(key)
        return f" (from {origin})" if origin else ""

    def type_error(self, key: str, value: Any, tp: Any) -> ConfigError:
        expected = describe(tp)
        hint = ""
        if isinstance(value, bool) and _accepts_str(tp):
            hint = f' (YAML reads {show(value)} as a boolean: put it in quotes, e.g. "{str(value).lower()}")'
        elif isinstance(value, (int, float)) and _accepts_str(tp) and not _literal_values(tp):
            hint = f' (YAML reads {show(value)} as a number: put it in quotes, e.g. "{value}")'
        elif value is None and not _accepts_none(tp):
            hint = " (null is not allowed here)"
        literal = _literal_values(tp)
        if literal:
            close = difflib.get_close_matches(str(value), [str(v) for v in literal], n=1, cutoff=0.5)
            fix = f"use one of {', '.join(show(v) for v in literal)}"
            fix += f" (did you mean {show(close[0])}?)" if close else ""
            problem = f"config key '{key}' = {show(value)}{self._where(key)} is not an allowed value{hint}."
        else:
            problem = f"config key '{key}' = {show(value)}{self._where(key)} has the wrong type{hint}: it must be {expected}."
            if is_config_class(tp):
                first = next(iter(init_fields(tp)), "key")
                sub_tp = type_hints(tp).get(first, Any)
                fix = f"set its keys one by one, e.g. --set {key}.{first}={_example(sub_tp)}"
            elif key.endswith("]"):  # a list item: --set cannot address it alone
                base, _, index = key.rpartition("[")
                fix = f"make item {index[:-1]} of '{base}' {expected}"
            else:
                fix = f"set '{key}' to {expected}, e.g. --set {key}={_example(tp)}"
        return ConfigError(problem, fix)

    def unknown_key(self, key: str, value: Any, allowed: list[str], section: str) -> ConfigError:
        name = key.rpartition(".")[2]
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        where = f"in section '{section}'" if section else "at the top level"
        problem = f"unknown config key '{key}' = {show(value)}{self._where(key)}."
        fix = f"did you mean '{join_key(section, close[0])}'? " if close else ""
        fix += f"Keys allowed {where}: {', '.join(allowed)}"
        return ConfigError(problem, fix)

    # ------------------------------------------------------------------ conversion
    def convert(self, value: Any, tp: Any, key: str) -> Any:
        try:
            return self._convert(value, tp, key)
        except _Mismatch:
            typed = self._typed_text(key, value)
            if typed is not None:
                try:
                    return self._convert(typed, tp, key)
                except _Mismatch:
                    pass
            raise self.type_error(key, value, tp) from None

    def _typed_text(self, key: str, value: Any) -> str | None:
        """The text after `--set KEY=` when `value` came from it and YAML made it a number or a boolean:
        `--set data.root=2024` means the folder '2024' where the key takes a string."""
        if isinstance(value, str) or not isinstance(value, (bool, int, float)):
            return None
        prefix = f"--set {key}="
        origin = self.origins.get(key, "")
        return origin[len(prefix):].strip() if origin.startswith(prefix) else None

    def _convert(self, value: Any, tp: Any, key: str) -> Any:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if tp is Any:
            return value
        if is_config_class(tp):
            return self.build(tp, value, key)
        if _is_union(tp):
            return self._union(value, args, key)
        if origin is Literal:
            for allowed in args:
                if value == allowed and type(value) is type(allowed):
                    return allowed
            raise _Mismatch
        if origin in (list, tuple) or tp in (list, tuple):
            return self._sequence(value, tp, origin or tp, args, key)
        if origin in (dict, Mapping) or tp in (dict, Mapping):
            return self._mapping(value, args, key)
        return _scalar(value, tp)

    def _union(self, value: Any, args: tuple, key: str) -> Any:
        # An exact match wins (5000 stays an int in `float | int`); only then try converting.
        for arm in args:
            if _exact(value, arm):
                return value
        for arm in args:
            try:
                return self._convert(value, arm, key)
            except _Mismatch:
                continue
            except ConfigError:
                # A nested section or list item inside this arm is wrong: report that, it is more precise.
                if len(args) == 2 and type(None) in args:
                    raise
                continue
        raise _Mismatch

    def _sequence(self, value: Any, tp: Any, origin: type, args: tuple, key: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise _Mismatch
            return tuple(self.convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [self.convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items

    def _mapping(self, value: Any, args: tuple, key: str) -> dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        key_tp, val_tp = args if args else (Any, Any)
        return {self.convert(k, key_tp, key): self.convert(v, val_tp, join_key(key, str(k))) for k, v in value.items()}

    def build(self, cls: type, value: Any, key: str = "") -> Any:
        """Build dataclass `cls` from a mapping; unknown keys, wrong types and missing keys are refused."""
        if isinstance(value, cls):
            return value
        if value is None and key:
            value = {}  # `section:` with nothing under it in YAML means "all defaults"
        if not isinstance(value, Mapping):
            raise self.type_error(key, value, cls)
        fields = init_fields(cls)
        hints = type_hints(cls)
        for name in value:
            if name not in fields:
                raise self.unknown_key(join_key(key, str(name)), value[name], list(fields), key)
        kwargs = {}
        for name, f in fields.items():
            sub = join_key(key, name)
            if name in value:
                kwargs[name] = self.convert(value[name], hints[name], sub)
            elif not has_default(f):
                raise ConfigError(f"config key '{sub}' is required but was not given.",
                                  f"set it to {describe(hints[name])}, e.g. --set {sub}={_example(hints[name])}")
        try:
            return cls(**kwargs)
        except FieldError as err:
            full = join_key(key, err.field)
            raise ConfigError(
                f"config key '{full}' = {show(err.value)}{self._where(full)} is not allowed: it must be {err.allowed}.",
                err.fix.replace(f"'{err.field}'", f"'{full}'") if err.fix else f"set '{full}' to {err.allowed}",
            ) from None
        except NatError as err:
            if isinstance(err, ConfigError) and not key:
                raise
            raise ConfigError(f"invalid config section '{key or cls.__name__}': {err.problem}", err.fix) from None
        except (ValueError, TypeError) as err:
            raise ConfigError(f"invalid config section '{key or cls.__name__}': {err}",
                              "correct the values in that section") from None


# ---------------------------------------------------------------------- scalar helpers
def _exact(value: Any, tp: Any) -> bool:
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp in (int, float, str):
        return type(value) is tp
    return False


def _scalar(value: Any, tp: Any) -> Any:
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            # YAML 1.1 reads `1e-3` (no dot) as a string; accept anything Python reads as a number.
            try:
                return float(value.strip())
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise _Mismatch
    raise ConfigError(f"the config schema uses a type natv2 cannot read from YAML: {tp!r}",
                      "this is a bug in the config definition; use bool/int/float/str/list/tuple/Literal/dataclass types")


def _accepts_str(tp: Any) -> bool:
    if tp in (str, Path):
        return True
    if _is_union(tp):
        return any(_accepts_str(a) for a in typing.get_args(tp))
    return typing.get_origin(tp) is Literal and any(isinstance(a, str) for a in typing.get_args(tp))


def _accepts_none(tp: Any) -> bool:
    return tp is type(None) or tp is Any or (_is_union(tp) and type(None) in typing.get_args(tp))


def _literal_values(tp: Any) -> tuple:
    if typing.get_origin(tp) is Literal:
        return typing.get_args(tp)
    if _is_union(tp):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(arms) == 1:
            return _literal_values(arms[0])
    return ()


def _example(tp: Any) -> str:
    """A short example value for `tp`, in `--set` syntax."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return str(args[0])
    if _is_union(tp):
        arms = [a for a in args if a is not type(None)]
        return _example(arms[0]) if arms else "null"
    if origin in (list, tuple) or tp in (list, tuple):
        inner = args[0] if args else int
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            return "[" + ",".join(_example(a) for a in args) + "]"
        return f"[{_example(inner)},{_example(inner)}]"
    examples = {bool: "true", int: "1", float: "0.5", str: "text", Path: "path/to/file", type(None): "null"}
    if tp in examples:
        return examples[tp]
    if is_config_class(tp):
        return "{...}"
    return "..."
