"""Built-in dataset sources; importing this package registers them all."""

from natv2.data.sources import cifar, digits, fashion_mnist, imagefolder, tiny_imagenet  # noqa: F401
from natv2.data.sources.base import DatasetSource, SourcePlan

__all__ = ["DatasetSource", "SourcePlan"]
