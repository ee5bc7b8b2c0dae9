"""Surrogate-assisted evolutionary search over integer genes with pymoo >= 0.6 (spec §3.6).

Minimises [predicted error, exact cost objectives]: 1 objective -> GA, 2 -> NSGA-II, >= 3 -> NSGA-III on
Riesz s-energy reference directions. Only the free genes are varied; operators: integer LHS (or uniform)
sampling, two-point crossover (or SBX rounded), polynomial mutation rounded to integers, then the
encoding's repair ("push"/"fill") on every offspring; duplicates eliminated. Returns the final population.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from pymoo.core.problem import Problem
from pymoo.core.repair import Repair
from pymoo.core.sampling import Sampling

from natv2.space.encoding import GeneEncoding
from natv2.space.subnet import SubnetConfig
from natv2.search.survival import riesz_directions


class IntegerLHS(Sampling):
    """Latin hypercube on [0, 1] mapped to equal-width integer bins of [xl, xu]."""

    def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
        from pymoo.operators.sampling.lhs import sampling_lhs

        U = sampling_lhs(n_samples, problem.n_var, 0.0, 1.0, random_state=random_state)
        X = np.floor(problem.xl + U * (problem.xu - problem.xl + 1)).astype(np.int64)
        return np.minimum(X, problem.xu)


class EncodingRepair(Repair):
    """Applies the encoding's push/fill repair to free-gene rows."""

    def __init__(self, encoding: GeneEncoding, mode: str) -> None:
        super().__init__()
        self.encoding, self.mode = encoding, mode

    def _do(self, problem, X, **kwargs):
        enc = self.encoding
        return enc.project(enc.repair(enc.expand(X), self.mode))


class SurrogateProblem(Problem):
    """Objectives of a free-gene row: predicted error from `predict_err`, then `costs(cfg)`."""

    def __init__(
        self,
        encoding: GeneEncoding,
        repair: str,
        predict_err: Callable[[np.ndarray], np.ndarray],
        costs: Callable[[SubnetConfig], Sequence[float]],
        n_obj: int,
    ) -> None:
        enc = encoding
        super().__init__(n_var=enc.n_free, n_obj=n_obj, xl=enc.lb[enc.free], xu=enc.ub[enc.free], vtype=int)
        self.encoding, self.repair_mode, self.predict_err, self.costs = enc, repair, predict_err, costs

    def full_genes(self, Z: np.ndarray) -> np.ndarray:
        return self.encoding.repair(self.encoding.expand(Z), self.repair_mode)

    def _evaluate(self, x, out, *args, **kwargs):
        X = self.full_genes(x)
        F = np.empty((len(X), self.n_obj))
        F[:, 0] = self.predict_err(X)
        if self.n_obj > 1:
            F[:, 1:] = [self.costs(c) for c in self.encoding.decode_many(X)]
        out["F"] = F


@dataclass(frozen=True)
class EmoSettings:
    pop_size: int = 100
    n_gen: int = 20
    sampling: str = "lhs"
    crossover: str = "two_point"
    crossover_prob: float = 0.9
    mutation_eta: float = 1.0
    ref_dirs_seed: int = 42


def _operators(s: EmoSettings):
    from pymoo.operators.crossover.pntx import TwoPointCrossover
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling

    sampling = {"lhs": IntegerLHS, "random": IntegerRandomSampling}[s.sampling]()
    crossover = {
        "two_point": lambda: TwoPointCrossover(prob=s.crossover_prob),
        "sbx": lambda: SBX(prob=s.crossover_prob, eta=15, vtype=float, repair=RoundingRepair()),
    }[s.crossover]()
    mutation = PM(eta=s.mutation_eta, vtype=float, repair=RoundingRepair())
    return sampling, crossover, mutation


def make_algorithm(n_obj: int, settings: EmoSettings, repair: Repair):
    """GA / NSGA-II / NSGA-III by the number of objectives (a table, not a chain of ifs)."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.algorithms.soo.nonconvex.ga import GA

    sampling, crossover, mutation = _operators(settings)
    common = dict(sampling=sampling, crossover=crossover, mutation=mutation, repair=repair, eliminate_duplicates=True)
    kind = min(n_obj, 3)
    build = {
        1: lambda: GA(pop_size=settings.pop_size, **common),
        2: lambda: NSGA2(pop_size=settings.pop_size, **common),
        3: lambda: NSGA3(
            ref_dirs=riesz_directions(n_obj, settings.pop_size, settings.ref_dirs_seed), pop_size=settings.pop_size, **common
        ),
    }
    return build[kind]()


def run_emo(problem: SurrogateProblem, settings: EmoSettings, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the EMO; return (full repaired genes, F) of the final population."""
    from pymoo.optimize import minimize

    algorithm = make_algorithm(problem.n_obj, settings, EncodingRepair(problem.encoding, problem.repair_mode))
    res = minimize(problem, algorithm, ("n_gen", settings.n_gen), seed=int(seed), verbose=False, save_history=False)
    pop = res.pop
    return problem.full_genes(pop.get("X")), np.asarray(pop.get("F"), dtype=np.float64)
