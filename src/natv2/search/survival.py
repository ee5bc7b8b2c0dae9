"""Environmental survival of an archive: which `n` of its members to keep (spec §3.8, §4.4).

1 objective: sort. 2 objectives: NSGA-II rank + crowding distance. 3 or more: NSGA-III niching on Riesz
s-energy reference directions (one direction per survivor). Ties are broken with the given generator,
so survival is reproducible from (seed, iteration, step).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from natv2.io.atomic import atomic_write_with
from natv2.io.cache import cache_root


def _cache_dir() -> Path:
    return cache_root() / "ref_dirs"


@lru_cache(maxsize=32)
def _riesz(n_obj: int, n_points: int, seed: int) -> np.ndarray:
    """Computed once per (n_obj, n_points, seed) and kept in memory and in the user cache (plain .npy)."""
    path = _cache_dir() / f"energy_m{n_obj}_n{n_points}_s{seed}.npy"
    try:
        dirs = np.load(path, allow_pickle=False)
        if dirs.shape == (n_points, n_obj) and np.all(np.isfinite(dirs)):
            return dirs
    except (OSError, ValueError):
        pass
    from pymoo.util.ref_dirs import get_reference_directions

    dirs = np.asarray(get_reference_directions("energy", n_obj, n_points, seed=seed), dtype=np.float64)
    try:
        atomic_write_with(path, lambda tmp: _save_npy(tmp, dirs))
    except OSError:  # a read-only home only costs the recomputation next time
        pass
    return dirs


def _save_npy(tmp: str, arr: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)


def riesz_directions(n_obj: int, n_points: int, seed: int = 42) -> np.ndarray:
    """Riesz s-energy reference directions (pymoo); cached, as computing them takes seconds. Returns a copy."""
    return _riesz(int(n_obj), int(n_points), int(seed)).copy()


def _pymoo_survive(survival, F: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem

    pop = Population.new(F=F.astype(np.float64), I=np.arange(len(F)))
    kept = survival.do(Problem(n_var=1, n_obj=F.shape[1]), pop, n_survive=n, random_state=rng)
    return np.asarray(kept.get("I"), dtype=np.int64)


def survive(F: np.ndarray, n: int, rng: np.random.Generator, ref_dirs_seed: int = 42) -> np.ndarray:
    """Indices (into F, sorted ascending) of the `n` survivors of the minimisation objectives F (rows = members)."""
    F = np.atleast_2d(np.asarray(F, dtype=np.float64))
    if n >= len(F):
        return np.arange(len(F))
    m = F.shape[1]
    if m == 1:
        idx = np.argsort(F[:, 0], kind="stable")[:n]
    elif m == 2:
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        idx = _pymoo_survive(RankAndCrowding(), F, n, rng)
    else:
        from pymoo.algorithms.moo.nsga3 import ReferenceDirectionSurvival

        idx = _pymoo_survive(ReferenceDirectionSurvival(riesz_directions(m, n, ref_dirs_seed)), F, n, rng)
    return np.sort(idx)
