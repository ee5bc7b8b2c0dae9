"""Archive entries and their JSON form (what `archive.json`, `front.json` and the result hold)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from natv2.space import SubnetConfig


@dataclass(frozen=True)
class ArchiveEntry:
    """One evaluated subnet. `iteration`: when it entered the archive (0 = initial archive);
    `evaluated`: the iteration of its latest evaluation (later than `iteration` after re-evaluation)."""

    config: SubnetConfig
    acc: float
    costs: tuple[float, ...]
    iteration: int
    evaluated: int

    @property
    def err(self) -> float:
        return 1.0 - self.acc

    def objective_vector(self) -> np.ndarray:
        return np.array([self.err, *self.costs], dtype=np.float64)

    def objectives(self, names: Sequence[str]) -> dict[str, float]:
        return dict(zip(names, (float(v) for v in self.objective_vector())))

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "objectives": self.objectives(names),
            "acc": float(self.acc),
            "iteration": int(self.iteration),
            "evaluated": int(self.evaluated),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], names: Sequence[str]) -> "ArchiveEntry":
        objs = data["objectives"]
        return cls(
            SubnetConfig.from_dict(data["config"]),
            float(data["acc"]),
            tuple(float(objs[n]) for n in names[1:]),
            int(data["iteration"]),
            int(data.get("evaluated", data["iteration"])),
        )


def objective_matrix(entries: Sequence[ArchiveEntry], n_obj: int) -> np.ndarray:
    if not entries:
        return np.zeros((0, n_obj))
    return np.stack([e.objective_vector() for e in entries])


def entries_to_json(entries: Sequence[ArchiveEntry], names: Sequence[str], **meta: Any) -> dict[str, Any]:
    return {**meta, "objectives": list(names), "entries": [e.to_dict(names) for e in entries]}


def entries_from_json(doc: dict[str, Any]) -> tuple[list[str], list[ArchiveEntry]]:
    """The inverse of `entries_to_json`: (objective names, entries)."""
    names = [str(n) for n in doc["objectives"]]
    return names, [ArchiveEntry.from_dict(e, names) for e in doc["entries"]]
