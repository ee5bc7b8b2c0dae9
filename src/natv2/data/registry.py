"""The dataset registry: name -> source class. Sources register themselves with `@register`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TypeVar

from natv2.errors import DataError

if TYPE_CHECKING:
    from natv2.data.sources.base import DatasetSource

S = TypeVar("S", bound="type[DatasetSource]")


class DatasetRegistry:
    """A name -> source-class table; filled once, when natv2.data.sources is imported."""

    def __init__(self) -> None:
        self._sources: dict[str, type[DatasetSource]] = {}

    def register(self, cls: S) -> S:
        name = cls.name
        if name in self._sources and self._sources[name] is not cls:
            raise ValueError(f"dataset {name!r} is registered twice")
        self._sources[name] = cls
        return cls

    def names(self) -> list[str]:
        return sorted(self._sources)

    def get(self, name: str) -> type[DatasetSource]:
        try:
            return self._sources[name]
        except KeyError:
            raise DataError(
                f"unknown dataset {name!r}; known datasets: {', '.join(self.names())}",
                fix="set data.name to one of those, or use 'imagefolder' with data.root pointing at a "
                "class-per-folder tree (train/<class>/*.jpg).",
            ) from None


DATASETS = DatasetRegistry()
register: Callable[[S], S] = DATASETS.register


def get_source_class(name: str) -> type[DatasetSource]:
    """Look a dataset up by name (importing the built-in sources first)."""
    import natv2.data.sources  # noqa: F401  (registers the built-in sources)

    return DATASETS.get(name)


def dataset_names() -> list[str]:
    import natv2.data.sources  # noqa: F401

    return DATASETS.names()
