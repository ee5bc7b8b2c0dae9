"""Tiny in-memory `TrainingData` for the training tests: class-dependent synthetic images."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class SyntheticData:
    """`n` images of `size` px in `n_classes` classes (a per-class colour pattern plus noise)."""

    def __init__(self, n: int = 64, n_classes: int = 4, size: int = 32, batch_size: int = 8, seed: int = 0,
                 n_val: int = 16, calib: int = 8) -> None:
        g = torch.Generator().manual_seed(seed)
        self.n_classes, self.batch_size, self.size = n_classes, batch_size, size
        protos = torch.randn(n_classes, 3, 4, 4, generator=g)

        def make(m: int) -> tuple[torch.Tensor, torch.Tensor]:
            y = torch.randint(0, n_classes, (m,), generator=g)
            x = F.interpolate(protos[y], size=(size, size), mode="bilinear", align_corners=False)
            return x + 0.5 * torch.randn(m, 3, size, size, generator=g), y

        self.x, self.y = make(n)
        self.xv, self.yv = make(n_val)
        self.xc = self.x[:calib]

    @staticmethod
    def _resize(x: torch.Tensor, r: int) -> torch.Tensor:
        return x if x.shape[-1] == r else F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)

    def steps_per_epoch(self, world_size: int) -> int:
        return len(self.x) // (self.batch_size * world_size)

    def train_batches(self, epoch_seed, resolutions, rank, world_size):
        rng = np.random.default_rng(epoch_seed)
        perm = torch.from_numpy(rng.permutation(len(self.x)))
        per_step = self.batch_size * world_size
        for i in range(self.steps_per_epoch(world_size)):
            idx = perm[i * per_step : (i + 1) * per_step][rank::world_size]
            r = int(resolutions[int(rng.integers(len(resolutions)))])
            x = self.x[idx]
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            yield self._resize(x, r), self.y[idx]

    def calibration_batches(self, resolution):
        return [self._resize(self.xc, resolution)]

    def eval_batches(self, resolution, split="val"):
        for i in range(0, len(self.xv), 8):
            yield self._resize(self.xv[i : i + 8], resolution), self.yv[i : i + 8]
