"""NAT / NATv2 search: archive policies, surrogate-assisted NSGA-II/III, subset selection, hypervolume, resume.

    from natv2.search import SearchConfig, run_search
    result = run_search({"r": [32], "w": [1.0], "n_classes": 10}, evaluate,
                        SearchConfig(policy="natv2", objectives=("err", "params"), archive_size=50, iterations=5),
                        run_dir="runs/x")

Names are imported lazily, so reading what a search wrote (`natv2.search.record`, as the report does) or
its config section never loads numpy, pymoo or torch.
"""

from __future__ import annotations

from natv2.lazy import by_module, lazy_getattr

_EXPORTS = by_module({
    "natv2.search.adapter": "Sampler SupernetAdapter",
    "natv2.search.archive": "ArchiveEntry",
    "natv2.search.config": "PRESETS SearchConfig make_config",
    "natv2.search.distributed": "ShardedEvaluate",
    "natv2.search.indicators": "high_tradeoff hypervolume non_dominated",
    "natv2.search.loop": "SearchResult as_space run_search",
    "natv2.search.objectives": "OBJECTIVES Objective ObjectiveContext ObjectiveRegistry",
    "natv2.search.subset": "select_subset",
    "natv2.search.survival": "survive",
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
