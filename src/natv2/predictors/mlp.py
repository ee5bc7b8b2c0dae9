"""Small multi-layer perceptron surrogate (NSGANetV2's member definition, spec §3.5, scaled down).

NSGANetV2: in -> 300 -> 300 -> 300 -> 1, dropout 0.2, SmoothL1 loss, Adam 8e-4, 2,000 full-batch
epochs with a cosine schedule, 80/20 train/validation split, the best-validation weights kept.
Here the width and epoch count are parameters with smaller defaults so a fit of 300 x 22 takes
about a second on a shared 2-core CPU; the learning rate is raised to match the shorter schedule.
Features are standardised, targets standardised. Torch's global RNG is forked, so fitting is
deterministic for a seed and leaves the caller's RNG state untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from natv2.predictors.base import SurrogateBase, TargetScaler, check_x, check_xy, thread_limited
from natv2.predictors.registry import register


@register("mlp")
@dataclass(eq=False)
class MLPSurrogate(SurrogateBase):
    """Full-batch MLP regressor with best-validation checkpointing."""

    hidden: int = 64
    layers: int = 3
    dropout: float = 0.2
    lr: float = 3e-3
    weight_decay: float = 0.0
    epochs: int = 400
    val_fraction: float = 0.2

    @thread_limited
    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPSurrogate":
        import torch

        X, y = check_xy(X, y, "mlp", min_samples=2)
        n = X.shape[0]
        if not 0.0 <= self.val_fraction < 1.0 or self.epochs < 1:
            raise ValueError("mlp: val_fraction must lie in [0, 1) and epochs be >= 1")
        n_val = min(int(round(self.val_fraction * n)), n - 1)  # keep at least one training row
        self._mean = X.mean(axis=0)
        std = X.std(axis=0)
        self._std = np.where(std > 0, std, 1.0)
        self._target = TargetScaler.fit(y)
        Xs = (X - self._mean) / self._std
        z = self._target.transform(y)
        perm = np.random.default_rng(self.seed).permutation(n)
        val, train = perm[:n_val], perm[n_val:]
        prev_threads = torch.get_num_threads()
        if self.threads is not None:  # torch may have been imported inside the BLAS limit, so set it too
            torch.set_num_threads(int(self.threads))
        try:
            self._fit_net(torch, Xs, z, train, val)
        finally:
            torch.set_num_threads(prev_threads)
        self.n_features_ = X.shape[1]
        return self

    def _fit_net(self, torch, Xs: np.ndarray, z: np.ndarray, train: np.ndarray, val: np.ndarray) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._net = self._build(Xs.shape[1])
            self._train(
                torch.as_tensor(Xs[train], dtype=torch.float32),
                torch.as_tensor(z[train], dtype=torch.float32),
                torch.as_tensor(Xs[val], dtype=torch.float32),
                torch.as_tensor(z[val], dtype=torch.float32),
            )

    def _build(self, n_in: int):
        from torch import nn

        mods: list[nn.Module] = []
        width = n_in
        for _ in range(self.layers):
            mods += [nn.Linear(width, self.hidden), nn.ReLU(), nn.Dropout(self.dropout)]
            width = self.hidden
        mods.append(nn.Linear(width, 1))
        return nn.Sequential(*mods)

    def _train(self, xt, zt, xv, zv) -> None:
        import torch

        net = self._net
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.epochs))
        loss_fn = torch.nn.SmoothL1Loss()
        best_loss, best_state = float("inf"), None
        for _ in range(self.epochs):
            net.train()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt).squeeze(1), zt)
            loss.backward()
            opt.step()
            sched.step()
            if len(zv):
                net.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(net(xv).squeeze(1), zv))
                if val_loss < best_loss:
                    best_loss = val_loss
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()

    @thread_limited
    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        X = check_x(X, self.n_features_, "mlp")
        with torch.no_grad():
            out = self._net(torch.as_tensor((X - self._mean) / self._std, dtype=torch.float32)).squeeze(1)
        return self._target.inverse(out.numpy().astype(np.float64))
