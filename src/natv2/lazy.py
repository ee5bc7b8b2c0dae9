"""Lazy package exports (PEP 562): a package lists `public name -> module` (or `(module, attribute)`)
and gets a module `__getattr__` that imports on first use, so reading a light sub-module (a config
section) never loads torch. One implementation for every package that exports this way."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Mapping

Target = str | tuple[str, str]


def by_module(table: Mapping[str, str]) -> dict[str, str]:
    """{module: "name name ..."} -> {name: module}: each module written once in a package's table."""
    return {name: module for module, names in table.items() for name in names.split()}


def lazy_getattr(package: str, exports: Mapping[str, Target], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The `__getattr__` of `package`: imports the export's module, caches the value in `namespace`."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = (target, name) if isinstance(target, str) else target
        value = getattr(import_module(module), attr)
        namespace[name] = value
        return value

    return __getattr__
