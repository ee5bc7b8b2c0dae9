"""Integer gene encodings of a `SearchSpace` (NAT's 22 genes, 23 with an exit gene, parallel-block codes).

Layout (spec §3.2, §4.2), generalised to the space's actual value lists:

* x[0]  resolution index into `space.r`;
* x[1]  width index into `space.w`;
* x[2]  exit index into `space.nd` (early-exit spaces only);
* then 20 layer genes (5 stages x 4 slots): 0 = skip, else ``1 + idx(nw) * |e||ks| + idx(e) * |ks| + idx(k)``.
  Without parallel blocks idx(nw) is 0, which gives NAT's ``1 + 3 idx(e) + idx(k)``. Parallel keys are
  ordered by branch count, then as OFAv2 lists them: [1, 2, 4], [3, 5, 6], [7].

Slots below ``min(space.d)`` may not be skipped (lower bound 1); slots at or past ``max(space.d)`` are
always skipped (upper bound 0). Genes whose bounds coincide are "fixed"; the search works on the free
ones only. Stage depth = number of non-zero slots once repaired (see `natv2.space.sampling`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from natv2.errors import InvalidSubnetError
from natv2.space.sampling import repair_layers
from natv2.space.space import NW_BITS, SearchSpace
from natv2.space.subnet import N_LAYERS, N_STAGES, SLOTS_PER_STAGE, SubnetConfig

# OFAv2's parallel-mask order: fewest branches first, then the order its code lists them.
NW_ORDER = (1, 2, 4, 3, 5, 6, 7)


class GeneEncoding:
    """Maps `SubnetConfig` <-> integer gene vectors for one `SearchSpace`; also bounds, repair, features."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.nw_keys: tuple[int, ...] = (
            tuple(k for k in NW_ORDER if k in space.nw) if space.nw is not None else ()
        )
        self.n_ke = len(space.ks) * len(space.e)
        self.n_codes = self.n_ke * max(1, len(self.nw_keys))  # V: largest non-zero layer code
        self.head: tuple[str, ...] = ("r", "w") + (("nd",) if space.has_exits else ())
        self.layer_offset = len(self.head)
        self.n_genes = self.layer_offset + N_LAYERS
        self.min_depth = min(space.d)
        self.max_depth = max(space.d)
        # depth -> largest allowed depth not above it (used by repair when the space skips a depth)
        allowed = sorted(space.d)
        self.depth_map = np.array(
            [max([a for a in allowed if a <= n], default=allowed[0]) for n in range(SLOTS_PER_STAGE + 1)]
        )
        lb = np.zeros(self.n_genes, dtype=np.int64)
        ub = np.zeros(self.n_genes, dtype=np.int64)
        ub[0], ub[1] = len(space.r) - 1, len(space.w) - 1
        if space.has_exits:
            ub[2] = len(space.nd) - 1
        for s in range(N_STAGES):
            for j in range(SLOTS_PER_STAGE):
                g = self.layer_offset + s * SLOTS_PER_STAGE + j
                lb[g] = 1 if j < self.min_depth else 0
                ub[g] = self.n_codes if j < self.max_depth else 0
        self.lb, self.ub = lb, ub
        self.free = np.flatnonzero(ub > lb)
        # one-hot layout over the free genes
        self._oh_sizes = (ub - lb + 1)[self.free]
        self._oh_offsets = np.concatenate([[0], np.cumsum(self._oh_sizes)[:-1]]).astype(np.int64)

    # ----------------------------------------------------------------- names and bounds
    @property
    def n_free(self) -> int:
        return int(self.free.size)

    def gene_names(self) -> list[str]:
        names = list(self.head)
        names += [f"s{s + 1}b{j + 1}" for s in range(N_STAGES) for j in range(SLOTS_PER_STAGE)]
        return names

    def optional_slots(self) -> np.ndarray:
        """Gene indices of layer slots that may be skipped (NATv2 gives them P(0) = 1/3)."""
        return np.flatnonzero((self.lb == 0) & (self.ub > 0) & (np.arange(self.n_genes) >= self.layer_offset))

    # ----------------------------------------------------------------- layer codes
    def layer_code(self, k: int, e: int, nw: int | None = None) -> int:
        sp = self.space
        code = sp.e.index(e) * len(sp.ks) + sp.ks.index(k)
        if self.nw_keys:
            code += self.nw_keys.index(nw if nw is not None else self.nw_keys[-1]) * self.n_ke
        return code + 1

    def layer_value(self, code: int) -> tuple[int, int, int | None]:
        """(k, e, nw) of a non-zero layer code."""
        sp = self.space
        c = int(code) - 1
        nw_idx, rem = divmod(c, self.n_ke)
        e_idx, k_idx = divmod(rem, len(sp.ks))
        return sp.ks[k_idx], sp.e[e_idx], (self.nw_keys[nw_idx] if self.nw_keys else None)

    # ----------------------------------------------------------------- repair
    def repair(self, X: np.ndarray, mode: str = "fill") -> np.ndarray:
        """Clip to bounds, then make every stage's non-zero slots contiguous (`push` or `fill`).

        Works on one gene vector or a (n, n_genes) matrix; returns a new int64 array.
        """
        X = np.asarray(X)
        single = X.ndim == 1
        X = np.clip(np.rint(np.atleast_2d(X)).astype(np.int64), self.lb, self.ub)
        layers = X[:, self.layer_offset :].reshape(-1, N_STAGES, SLOTS_PER_STAGE)
        X[:, self.layer_offset :] = repair_layers(layers, mode, self.depth_map).reshape(X.shape[0], -1)
        return X[0] if single else X

    def is_valid(self, x: np.ndarray) -> bool:
        x = np.asarray(x)
        if x.shape != (self.n_genes,) or np.any(x < self.lb) or np.any(x > self.ub):
            return False
        return bool(np.array_equal(self.repair(x, "fill"), x))

    # ----------------------------------------------------------------- decode / encode
    def decode(self, x: Sequence[int]) -> SubnetConfig:
        """Genes -> `SubnetConfig`. The genes must be repaired (contiguous non-zero slots per stage)."""
        x = np.asarray(x, dtype=np.int64)
        if not self.is_valid(x):
            raise InvalidSubnetError(
                f"gene vector {x.tolist()} is outside the bounds or has a skipped slot before an active one",
                "call GeneEncoding.repair(x, mode) before decode",
            )
        sp = self.space
        ks: list[int] = []
        es: list[int] = []
        nws: list[int] = []
        depths: list[int] = []
        for s in range(N_STAGES):
            codes = x[self.layer_offset + s * SLOTS_PER_STAGE : self.layer_offset + (s + 1) * SLOTS_PER_STAGE]
            depth = int(np.count_nonzero(codes))
            depths.append(depth)
            last = None
            for j in range(SLOTS_PER_STAGE):
                if j < depth:
                    last = self.layer_value(int(codes[j]))
                k, e, nw = last  # placeholders past the depth repeat the last active layer
                ks.append(k)
                es.append(e)
                nws.append(nw if nw is not None else 0)
        return SubnetConfig(
            ks=tuple(ks),
            e=tuple(es),
            d=tuple(depths),
            r=sp.r[int(x[0])],
            w=sp.w[int(x[1])],
            nd=sp.nd[int(x[2])] if sp.has_exits else None,
            nw=tuple(nws) if self.nw_keys else None,
        )

    def encode(self, cfg: SubnetConfig) -> np.ndarray:
        """`SubnetConfig` -> genes. Stages past an early exit keep their (inactive) layers, clamped into the space."""
        sp = self.space
        cfg = sp.coerce(cfg)
        x = np.zeros(self.n_genes, dtype=np.int64)
        x[0] = sp.r.index(cfg.r)
        x[1] = sp.w.index(cfg.w)
        if sp.has_exits:
            x[2] = sp.nd.index(cfg.nd if cfg.nd is not None else max(sp.nd))
        for s in range(N_STAGES):
            active = s < cfg.n_active_stages
            depth = cfg.d[s] if active else int(self.depth_map[cfg.d[s]])
            depth = max(depth, self.min_depth)
            for j in range(depth):
                i = s * SLOTS_PER_STAGE + j
                k = cfg.ks[i] if cfg.ks[i] in sp.ks else sp.ks[0]
                e = cfg.e[i] if cfg.e[i] in sp.e else sp.e[0]
                nw = None
                if self.nw_keys:
                    nw = cfg.nw[i] if cfg.nw is not None and cfg.nw[i] in self.nw_keys else self.nw_keys[-1]
                x[self.layer_offset + i] = self.layer_code(k, e, nw)
        return x

    def encode_many(self, cfgs: Sequence[SubnetConfig]) -> np.ndarray:
        if not cfgs:
            return np.zeros((0, self.n_genes), dtype=np.int64)
        return np.stack([self.encode(c) for c in cfgs])

    def decode_many(self, X: np.ndarray) -> list[SubnetConfig]:
        return [self.decode(x) for x in np.atleast_2d(X)]

    def lower_config(self) -> SubnetConfig:
        """The lower-bound architecture (NAT's "lb arch"): every gene at its lower bound."""
        return self.decode(self.lb)

    def upper_config(self) -> SubnetConfig:
        """The upper-bound architecture (NAT's "ub arch"): every gene at its upper bound."""
        return self.decode(self.ub)

    # ----------------------------------------------------------------- free-gene projection
    def project(self, X: np.ndarray) -> np.ndarray:
        """Full genes -> free genes only (what the evolutionary search varies)."""
        return np.atleast_2d(X)[:, self.free]

    def expand(self, Z: np.ndarray) -> np.ndarray:
        """Free genes -> full genes (fixed genes take their single allowed value)."""
        Z = np.atleast_2d(Z)
        X = np.tile(self.lb, (Z.shape[0], 1))
        X[:, self.free] = np.rint(Z).astype(np.int64)
        return X

    # ----------------------------------------------------------------- surrogate features
    def features(self, X: np.ndarray, kind: str = "integer") -> np.ndarray:
        """Surrogate inputs from genes: `integer` (free genes as numbers) or `onehot` (one column per value)."""
        try:
            make = _FEATURES[kind]
        except KeyError:
            raise InvalidSubnetError(
                f"unknown feature kind '{kind}'", f"choose one of {sorted(_FEATURES)}"
            ) from None
        return make(self, np.atleast_2d(np.asarray(X, dtype=np.int64)))

    def n_features(self, kind: str = "integer") -> int:
        return int(self.features(self.lb[None, :], kind).shape[1])


def _integer_features(enc: GeneEncoding, X: np.ndarray) -> np.ndarray:
    return X[:, enc.free].astype(np.float64)


def _onehot_features(enc: GeneEncoding, X: np.ndarray) -> np.ndarray:
    Z = X[:, enc.free] - enc.lb[enc.free]
    out = np.zeros((X.shape[0], int(enc._oh_sizes.sum())), dtype=np.float64)
    rows = np.arange(X.shape[0])[:, None]
    out[rows, enc._oh_offsets[None, :] + Z] = 1.0
    return out


_FEATURES = {"integer": _integer_features, "onehot": _onehot_features}
