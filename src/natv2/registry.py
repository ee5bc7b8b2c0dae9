"""One name -> object table for every registry of natv2 (supernets, datasets, surrogates, objectives, layers).

Each registry is a `Registry` with its own kind name and its own "unknown name" error, so every
lookup fails the same way (the known names and how to add one), and every registration refuses a
second, different object under a taken name instead of silently replacing it. Registering the very
same object again (a module imported twice) is a no-op.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar, overload

from natv2.errors import ConfigError, NatError

T = TypeVar("T")
O = TypeVar("O")


class DuplicateNameError(ConfigError, ValueError):
    """A name is registered twice with different objects (a ValueError too, as before this class)."""


class Registry(Generic[T]):
    """A named table of `T`, filled by `register`, read by `get` / `names`.

    `kind` names the entries in messages ("supernet", "dataset"). `error` is the NatError subclass an
    unknown name raises; `fix` is its advice, where "{names}" becomes the known names.
    """

    def __init__(self, kind: str, *, error: type[NatError] = ConfigError,
                 fix: str = "choose one of {names}") -> None:
        self.kind = kind
        self.error = error
        self.fix = fix
        self._items: dict[str, T] = {}

    def check_free(self, name: str, obj: object = None) -> None:
        """Raise DuplicateNameError if `name` is taken by an object other than `obj`."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a {self.kind} needs a non-empty string name, got {name!r}", "give it a name")
        old = self._items.get(name)
        if name in self._items and old is not obj:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is already registered ({_describe(old)})",
                f"pick another name, or remove the first registration of {name!r}")

    def add(self, name: str, obj: T) -> T:
        """Register `obj` under `name`; a different object under a taken name raises DuplicateNameError."""
        self.check_free(name, obj)
        self._items[name] = obj
        return obj

    def unregister(self, name: str) -> T | None:
        """Remove `name` (a plugin unloading, a test cleaning up); returns what was there, or None."""
        return self._items.pop(name, None)

    @overload
    def register(self, name: str) -> Callable[[O], O]: ...

    @overload
    def register(self, name: str, obj: T) -> T: ...

    def register(self, name, obj=None):
        """`registry.register(name, obj)`, or `@registry.register(name)` as a decorator."""
        if obj is not None:
            return self.add(name, obj)

        def deco(target):
            self.add(name, target)
            return target

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self.error(f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none'}",
                             self.fix.format(names=self.names())) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return f"{module}.{name}"


__all__ = ["DuplicateNameError", "Registry"]
