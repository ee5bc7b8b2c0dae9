"""The per-batch resolution sampler (elastic resolution).

The resolution of (epoch, step) is a pure function of (seed, epoch, step), so every
distributed rank picks the same size for the same step without communicating (OFA seeds a
generator with batch id and epoch for the same reason). Uniform over the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from natv2.errors import ConfigError


@dataclass(frozen=True)
class ResolutionSampler:
    """The resolution of each training batch, drawn from `resolutions` by a seeded generator (the same on every
    rank)."""
    resolutions: tuple[int, ...]
    seed: int = 0

    def __init__(self, resolutions: Sequence[int] | int, seed: int = 0) -> None:
        res = (resolutions,) if isinstance(resolutions, int) else tuple(int(r) for r in resolutions)
        if not res or any(r <= 0 for r in res):
            raise ConfigError(f"resolutions {resolutions!r} must be positive integers", fix="e.g. [24, 28, 32].")
        object.__setattr__(self, "resolutions", res)
        object.__setattr__(self, "seed", int(seed))

    def __call__(self, epoch: int, step: int) -> int:
        if len(self.resolutions) == 1:
            return self.resolutions[0]
        word = np.random.SeedSequence([self.seed, int(epoch), int(step)]).generate_state(1, dtype=np.uint64)[0]
        return self.resolutions[int(word % np.uint64(len(self.resolutions)))]

    @property
    def max(self) -> int:
        return max(self.resolutions)
