"""The hook for online supernet adaptation between search iterations (spec §3.8, §4.4).

The search loop knows nothing of training. After each iteration it fits per-gene distributions on the
top-N archive members and calls ``adapter.adapt(sampler, iteration, epochs)``, where
``sampler(rng) -> SubnetConfig`` draws subnets from those distributions (already repaired). If the
adapter returns True (weights changed), the loop re-evaluates the whole archive with `evaluate`, which
must then use the adapted weights.

Resume contract: an adapter must save its state (weights, optimiser, schedule position) before
returning from `adapt`; the loop journals the return value and never calls `adapt` again for that
iteration. If the process dies inside `adapt`, the loop calls it again for the same iteration, and the
adapter resumes from its own checkpoints (or restarts the iteration's epochs from the last saved state).
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from natv2.space import SubnetConfig

Sampler = Callable[[np.random.Generator], SubnetConfig]
"""Draws one subnet from a seeded numpy generator (what an adapter trains on)."""


@runtime_checkable
class SupernetAdapter(Protocol):
    """What the search calls between iterations to adapt the supernet's weights to the subnets it now favours."""
    def adapt(self, sampler: Sampler, iteration: int) -> bool:
        """One round of training on subnets drawn with `sampler` (the adapter knows its own length, e.g.
        `search_stage.adapt.epochs`); True if weights changed."""
        ...
