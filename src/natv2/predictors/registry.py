"""Name -> surrogate class registry, so the search picks a surrogate with one config string."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, TypeVar

from natv2.errors import ConfigError
from natv2.predictors.base import Surrogate
from natv2.registry import Registry

_SURROGATES: Registry[type] = Registry("surrogate", fix="choose one of {names}")

T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a dataclass surrogate constructible as `create(name, seed, **params)`."""

    def deco(cls: T) -> T:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"surrogate {cls.__name__} must be a dataclass (its fields are its parameters)")
        return _SURROGATES.add(name, cls)

    return deco


def list_surrogates() -> list[str]:
    """Registered surrogate names, sorted."""
    return _SURROGATES.names()


def surrogate_params(name: str) -> dict[str, Any]:
    """Default parameters of a surrogate (what `create(name)` uses), for configs and docs."""
    cls = _lookup(name)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
    return out


def create(name: str, seed: int = 0, **params: Any) -> Surrogate:
    """Build an unfitted surrogate; unknown names or parameters raise ConfigError listing what exists."""
    cls = _lookup(name)
    allowed = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(
            f"surrogate '{name}' has no parameter(s) {unknown}",
            f"use some of {sorted(allowed - {'seed'})}",
        )
    return cls(seed=int(seed), **params)


def _lookup(name: str) -> type:
    return _SURROGATES.get(name)
