"""`SupernetMeta`: what the trained supernet's description says about its training (the `meta` the trainer
saves beside the weights through natv2.supernets.save_supernet): family, width, classes, dataset, seed and
transfer source. The train stage writes it through this class and every other reader (the report) reads it
through this class, so its keys have one owner. Torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from natv2.io.artifacts import REL_TRAINED_SUPERNET

DESCRIPTION = REL_TRAINED_SUPERNET + ".json"
"""The trained supernet's description, relative to the run directory (where this meta is saved)."""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class SupernetMeta:
    """How the supernet was trained; a value the description does not hold is None.

    The trainer adds its phases and the best epoch of each to what it saves; readers of those use the
    training's own records (natv2.train.metrics).
    """

    supernet: str | None
    width_mult: float | None
    n_classes: int | None
    dataset: str | None
    class_names: list[str] | None = None
    seed: int | None = None
    source: dict[str, Any] | None = None  # natv2.supernets.source.Source.card() of a transfer run

    def to_dict(self) -> dict[str, Any]:
        """The mapping the trainer saves (its keys in this order)."""
        return asdict(self)

    @classmethod
    def from_description(cls, doc: Any) -> "SupernetMeta | None":
        """The meta of a parsed supernet description (`{"format", "arch", "meta"}`); None when it holds none.

        Args:
            doc: the parsed description file.

        Returns:
            The meta, or None.
        """
        meta = doc.get("meta") if isinstance(doc, Mapping) else None
        if not isinstance(meta, Mapping):
            return None
        width, names, source = meta.get("width_mult"), meta.get("class_names"), meta.get("source")
        return cls(None if meta.get("supernet") is None else str(meta["supernet"]),
                   float(width) if isinstance(width, (int, float)) and not isinstance(width, bool) else None,
                   _count(meta.get("n_classes")), None if meta.get("dataset") is None else str(meta["dataset"]),
                   [str(n) for n in names] if isinstance(names, list) else None, _count(meta.get("seed")),
                   dict(source) if isinstance(source, Mapping) else None)
