"""natv2.finetune: NATv2's two-step post-processing of chosen subnets (spec §4.7), single- and multi-exit.

    from natv2.finetune import FinetuneConfig, FinetuneRunner, select_subnets
    cands = select_subnets("front", run_dir="runs/x")
    FinetuneRunner(FinetuneConfig(max_epochs=20), supernet, data_for, "runs/x/models").run(cands)

Names are imported lazily, so reading `natv2.finetune.config` (the config layer does) never loads torch.
"""

from __future__ import annotations

from natv2.lazy import by_module, lazy_getattr

_EXPORTS = by_module({
    "natv2.finetune.config": "FinetuneConfig",
    "natv2.finetune.protocol": "TwoStepFinetuner TwoStepResult OptimSpec FinetuneData",
    "natv2.finetune.runner": "FinetuneRunner",
    "natv2.finetune.selection": "Candidate select_subnets read_candidates",
    "natv2.finetune.weights": "exit_weights",
    "natv2.nn.multi_exit": "MultiExitEnsemble",
    "natv2.finetune.costs": "subnet_cost",
    "natv2.finetune.data": "SplitsData",
    "natv2.finetune.stage": "run_finetune_stage",
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
