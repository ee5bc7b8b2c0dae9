"""natv2.finetune: NATv2's two-step post-processing of chosen subnets (spec §4.7), single- and multi-exit.

    from natv2.finetune import FinetuneConfig, FinetuneRunner, select_subnets
    cands = select_subnets("front", run_dir="runs/x")
    FinetuneRunner(FinetuneConfig(max_epochs=20), supernet, data_for, "runs/x/models").run(cands)

Names are imported lazily, so reading `natv2.finetune.config` (the config layer does) never loads torch.
"""

from __future__ import annotations

from natv2.lazy import lazy_getattr

_EXPORTS = {
    "FinetuneConfig": "natv2.finetune.config",
    "TwoStepFinetuner": "natv2.finetune.protocol",
    "TwoStepResult": "natv2.finetune.protocol",
    "OptimSpec": "natv2.finetune.protocol",
    "FinetuneData": "natv2.finetune.protocol",
    "FinetuneRunner": "natv2.finetune.runner",
    "Candidate": "natv2.finetune.selection",
    "select_subnets": "natv2.finetune.selection",
    "read_candidates": "natv2.finetune.selection",
    "exit_weights": "natv2.finetune.weights",
    "MultiExitEnsemble": "natv2.nn.multi_exit",
    "subnet_cost": "natv2.finetune.costs",
    "SplitsData": "natv2.finetune.data",
    "run_finetune_stage": "natv2.finetune.stage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
