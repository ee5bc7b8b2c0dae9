"""Sampling over integer genes: repair strategies, per-gene distributions, initialisation policies.

* Repair (spec §3.2): "push" (NAT) moves a stage's skipped slots to its end; "fill" (NATv2) skips every
  slot after the first skipped one. Both then round the depth down to one the space allows.
* Per-gene distributions: independent over genes. `CategoricalGenes` (empirical frequencies, optional
  Laplace smoothing; NAT maintainer's description) and `ContinuousGenes` (best-SSE scipy.stats fit,
  the thesis code; spec §3.8) share one `sample_genes(n, rng)` interface.
* Initialisation policies (spec §3.4, §4.3): "nat" (every gene uniform in [lb, ub]), "natv2" (optional
  slots skipped with probability 1/3) and "uniform" (`SearchSpace.sample`: every dimension uniform,
  the random-search baseline).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

import numpy as np

from natv2.errors import ConfigError
from natv2.space.subnet import SubnetConfig

if TYPE_CHECKING:  # encoding imports this module for repair
    from natv2.space.encoding import GeneEncoding


# ===================================================================== repair
def _push(layers: np.ndarray) -> np.ndarray:
    order = np.argsort(layers == 0, axis=-1, kind="stable")
    return np.take_along_axis(layers, order, axis=-1)


def _fill(layers: np.ndarray) -> np.ndarray:
    return layers * np.cumprod(layers != 0, axis=-1)


REPAIRS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"push": _push, "fill": _fill}


def repair_layers(layers: np.ndarray, mode: str, depth_map: np.ndarray) -> np.ndarray:
    """Repair (n, stages, slots) layer codes so non-zero slots are contiguous and depths allowed.

    `depth_map[n]` is the allowed depth used for a stage with n active slots (largest allowed <= n).
    """
    try:
        fix = REPAIRS[mode]
    except KeyError:
        raise ConfigError(f"unknown repair mode '{mode}'", f"choose one of {sorted(REPAIRS)}") from None
    out = fix(layers)
    depth = np.count_nonzero(out, axis=-1)
    target = depth_map[depth]
    slot = np.arange(out.shape[-1])
    return np.where(slot[None, None, :] < target[..., None], out, 0)


# ===================================================================== per-gene distributions
class GeneDistribution(Protocol):
    """Independent per-gene distribution over integer genes within [lb, ub]."""

    def sample_genes(self, n: int, rng: np.random.Generator) -> np.ndarray: ...

    def describe(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class CategoricalGenes:
    """One categorical distribution per gene over the values lb..ub."""

    lb: np.ndarray
    probs: tuple[np.ndarray, ...]

    def sample_genes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.random((n, len(self.probs)))
        out = np.empty((n, len(self.probs)), dtype=np.int64)
        for g, p in enumerate(self.probs):
            cdf = np.cumsum(p)
            out[:, g] = self.lb[g] + np.minimum(np.searchsorted(cdf / cdf[-1], u[:, g], side="right"), len(p) - 1)
        return out

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"kind": "categorical", "values": list(range(int(lo), int(lo) + len(p))), "probs": [round(float(v), 6) for v in p]}
            for lo, p in zip(self.lb, self.probs)
        ]


def uniform_genes(lb: np.ndarray, ub: np.ndarray) -> CategoricalGenes:
    return CategoricalGenes(np.asarray(lb), tuple(np.full(int(h - l + 1), 1.0 / (h - l + 1)) for l, h in zip(lb, ub)))


def fit_categorical(X: np.ndarray, lb: np.ndarray, ub: np.ndarray, smoothing: float = 0.0) -> CategoricalGenes:
    """Empirical frequency of each value per gene; `smoothing` adds that pseudo-count to every value."""
    X = np.atleast_2d(np.asarray(X, dtype=np.int64))
    probs = []
    for g in range(X.shape[1]):
        size = int(ub[g] - lb[g] + 1)
        counts = np.bincount(np.clip(X[:, g] - lb[g], 0, size - 1), minlength=size).astype(np.float64) + smoothing
        probs.append(counts / counts.sum())
    return CategoricalGenes(np.asarray(lb), tuple(probs))


# Curated scipy.stats families for the best-fit continuous option. The thesis fits ~100 families per gene
# (minutes per iteration); these cover symmetric, skewed both ways, heavy-tailed and flat shapes and fit
# in milliseconds each (closed-form or one-dimensional MLE).
CONTINUOUS_FAMILIES: tuple[str, ...] = ("norm", "uniform", "laplace", "logistic", "gumbel_r", "gumbel_l", "expon", "cauchy")


@dataclass(frozen=True)
class _GeneFit:
    family: str  # a scipy.stats name, or "point" for a constant gene
    params: tuple[float, ...]
    sse: float


@dataclass(frozen=True)
class ContinuousGenes:
    """Per gene a fitted continuous distribution; samples are rounded and clipped to [lb, ub]."""

    lb: np.ndarray
    ub: np.ndarray
    fits: tuple[_GeneFit, ...]

    def sample_genes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        import scipy.stats as st

        out = np.empty((n, len(self.fits)), dtype=np.int64)
        for g, fit in enumerate(self.fits):
            if fit.family == "point":
                vals = np.full(n, fit.params[0])
            else:
                vals = getattr(st, fit.family).rvs(*fit.params, size=n, random_state=rng)
            out[:, g] = np.clip(np.rint(vals), self.lb[g], self.ub[g])
        return out

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"kind": "continuous", "family": f.family, "params": [float(p) for p in f.params], "sse": float(f.sse)}
            for f in self.fits
        ]


def fit_continuous(
    X: np.ndarray, lb: np.ndarray, ub: np.ndarray, families: Sequence[str] = CONTINUOUS_FAMILIES
) -> ContinuousGenes:
    """Fit each family by MLE to each gene; keep the one with the lowest SSE against the histogram density."""
    import scipy.stats as st

    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    fits = []
    for g in range(X.shape[1]):
        col = X[:, g]
        if np.ptp(col) == 0:
            fits.append(_GeneFit("point", (float(col[0]),), 0.0))
            continue
        density, edges = np.histogram(col, bins="auto", density=True)
        centres = (edges[:-1] + edges[1:]) / 2
        best = _GeneFit("point", (float(np.median(col)),), float("inf"))
        for name in families:
            dist = getattr(st, name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    params = tuple(float(p) for p in dist.fit(col))
                    pdf = dist.pdf(centres, *params)
                except Exception:  # a family that cannot fit this sample is just skipped
                    continue
            if not np.all(np.isfinite(pdf)):
                continue
            sse = float(np.sum((density - pdf) ** 2))
            if sse < best.sse:
                best = _GeneFit(name, params, sse)
        fits.append(best)
    return ContinuousGenes(np.asarray(lb), np.asarray(ub), tuple(fits))


DISTRIBUTIONS: dict[str, Callable[..., GeneDistribution]] = {
    "categorical": lambda X, lb, ub, smoothing=0.0: fit_categorical(X, lb, ub, smoothing),
    "continuous": lambda X, lb, ub, smoothing=0.0: fit_continuous(X, lb, ub),
}


def fit_distribution(kind: str, X: np.ndarray, lb: np.ndarray, ub: np.ndarray, smoothing: float = 0.0) -> GeneDistribution:
    try:
        make = DISTRIBUTIONS[kind]
    except KeyError:
        raise ConfigError(f"unknown gene distribution '{kind}'", f"choose one of {sorted(DISTRIBUTIONS)}") from None
    return make(X, lb, ub, smoothing=smoothing)


@dataclass(frozen=True)
class GeneSampler:
    """`sampler(rng) -> SubnetConfig`: draws genes independently, repairs, decodes (what adaptation uses)."""

    encoding: "GeneEncoding"
    distribution: GeneDistribution
    repair: str = "fill"

    def sample_genes(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.encoding.repair(self.distribution.sample_genes(n, rng), self.repair)

    def sample_many(self, n: int, rng: np.random.Generator) -> list[SubnetConfig]:
        return self.encoding.decode_many(self.sample_genes(n, rng))

    def __call__(self, rng: np.random.Generator) -> SubnetConfig:
        return self.sample_many(1, rng)[0]


# ===================================================================== initialisation policies
class InitPolicy(Protocol):
    """Draws (possibly repeated) subnets for the initial archive; bounds are added by the caller."""

    def draw(self, encoding: "GeneEncoding", n: int, rng: np.random.Generator, repair: str) -> list[SubnetConfig]: ...


@dataclass(frozen=True)
class NatInit:
    """NAT: every gene uniform in [lb, ub], then repair (with push, most stages come out at full depth)."""

    def draw(self, encoding: "GeneEncoding", n: int, rng: np.random.Generator, repair: str) -> list[SubnetConfig]:
        return GeneSampler(encoding, uniform_genes(encoding.lb, encoding.ub), repair).sample_many(n, rng)


@dataclass(frozen=True)
class Natv2Init:
    """NATv2 (spec §4.3): optional slots are 0 with probability `p_skip`, else uniform over non-zero codes.

    With fill repair and d in {2,3,4} this gives stage depths (1/3, 2/9, 4/9).
    """

    p_skip: float = 1.0 / 3.0

    def distribution(self, encoding: "GeneEncoding") -> CategoricalGenes:
        base = uniform_genes(encoding.lb, encoding.ub)
        probs = list(base.probs)
        for g in encoding.optional_slots():
            size = len(probs[g])
            p = np.full(size, (1.0 - self.p_skip) / (size - 1))
            p[0] = self.p_skip
            probs[g] = p
        return CategoricalGenes(encoding.lb, tuple(probs))

    def draw(self, encoding: "GeneEncoding", n: int, rng: np.random.Generator, repair: str) -> list[SubnetConfig]:
        return GeneSampler(encoding, self.distribution(encoding), repair).sample_many(n, rng)


@dataclass(frozen=True)
class UniformInit:
    """Every dimension uniform (`SearchSpace.sample`): depth uniform per stage; random search uses it."""

    def draw(self, encoding: "GeneEncoding", n: int, rng: np.random.Generator, repair: str) -> list[SubnetConfig]:
        return [encoding.space.coerce(encoding.space.sample(rng)) for _ in range(n)]


INIT_POLICIES: dict[str, InitPolicy] = {"nat": NatInit(), "natv2": Natv2Init(), "uniform": UniformInit()}


def get_init_policy(name: str) -> InitPolicy:
    try:
        return INIT_POLICIES[name]
    except KeyError:
        raise ConfigError(f"unknown initialisation policy '{name}'", f"choose one of {sorted(INIT_POLICIES)}") from None


def sample_unique(
    draw: Callable[[int, np.random.Generator], list[SubnetConfig]],
    n: int,
    rng: np.random.Generator,
    exclude: Iterable[SubnetConfig] = (),
    max_rounds: int = 50,
) -> list[SubnetConfig]:
    """`n` distinct subnets (canonical equality), none in `exclude`, in the order they were drawn."""
    seen = set(exclude)
    out: list[SubnetConfig] = []
    for _ in range(max_rounds):
        if len(out) >= n:
            break
        for cfg in draw(max(n - len(out), 8) if out else n, rng):
            if cfg not in seen:
                seen.add(cfg)
                out.append(cfg)
                if len(out) == n:
                    break
    if len(out) < n:
        raise ConfigError(
            f"could only draw {len(out)} distinct new subnets of the {n} requested; the search space is too small",
            "lower archive_size / candidates_per_iter, or widen the search space",
        )
    return out


def initial_archive(
    encoding: "GeneEncoding", policy: str, n: int, rng: np.random.Generator, repair: str, with_bounds: bool = True
) -> list[SubnetConfig]:
    """NAT/NATv2 initial archive: `n - 2` distinct draws plus the lower- and upper-bound architectures."""
    init = get_init_policy(policy)
    bounds = [encoding.lower_config(), encoding.upper_config()] if with_bounds else []
    bounds = list(dict.fromkeys(bounds))  # a one-point space has lb == ub
    draws = sample_unique(lambda k, r: init.draw(encoding, k, r, repair), n - len(bounds), rng, exclude=bounds)
    return draws + bounds
