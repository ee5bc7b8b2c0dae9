"""NAT / NATv2 search: archive policies, surrogate-assisted NSGA-II/III, subset selection, hypervolume, resume.

    from natv2.search import SearchConfig, run_search
    result = run_search({"r": [32], "w": [1.0], "n_classes": 10}, evaluate,
                        SearchConfig(policy="natv2", objectives=("err", "params"), archive_size=50, iterations=5),
                        run_dir="runs/x")
"""

from natv2.search.adapter import Sampler, SupernetAdapter
from natv2.search.archive import ArchiveEntry
from natv2.search.config import PRESETS, SearchConfig, make_config
from natv2.search.distributed import ShardedEvaluate
from natv2.search.indicators import high_tradeoff, hypervolume, non_dominated
from natv2.search.loop import SearchResult, as_space, run_search
from natv2.search.objectives import OBJECTIVES, Objective, ObjectiveContext, ObjectiveRegistry
from natv2.search.subset import select_subset
from natv2.search.survival import survive

__all__ = [
    "OBJECTIVES",
    "PRESETS",
    "ArchiveEntry",
    "Objective",
    "ObjectiveContext",
    "ObjectiveRegistry",
    "Sampler",
    "SearchConfig",
    "SearchResult",
    "ShardedEvaluate",
    "SupernetAdapter",
    "as_space",
    "high_tradeoff",
    "hypervolume",
    "make_config",
    "non_dominated",
    "run_search",
    "select_subset",
    "survive",
]
