"""The dataset registry: name -> source class. Sources register themselves with `@register`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from natv2.errors import DataError
from natv2.registry import Registry

if TYPE_CHECKING:
    from natv2.data.sources.base import DatasetSource

S = TypeVar("S", bound="type[DatasetSource]")


DATASETS: Registry[type[DatasetSource]] = Registry(
    "dataset", error=DataError,
    fix="set data.name to one of {names}, or use 'imagefolder' with data.root pointing at a "
    "class-per-folder tree (train/<class>/*.jpg).")
"""Registry of dataset sources by name (`data.name`): cifar10, cifar100, tiny-imagenet, imagefolder, digits,
fashion-mnist."""


def register(cls: S) -> S:
    """Class decorator: register a dataset source under its `name` (a second class under it is refused)."""
    return DATASETS.add(cls.name, cls)


def get_source_class(name: str) -> type[DatasetSource]:
    """Look a dataset up by name (importing the built-in sources first)."""
    import natv2.data.sources  # noqa: F401  (registers the built-in sources)

    return DATASETS.get(name)


def dataset_names() -> list[str]:
    """Names of every registered dataset source (what `data.name` accepts)."""
    import natv2.data.sources  # noqa: F401

    return DATASETS.names()
