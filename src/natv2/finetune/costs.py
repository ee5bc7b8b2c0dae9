"""Params and MACs of post-processed models, from natv2's closed form.

A single-exit subnet costs what the search saw. The multi-exit (AEP) network of an early-exit
subnet runs the same body plus the exit heads of stages 1..nd-1 as well: its cost is the
subnet's cost plus those heads, which we add explicitly so the report shows the growth.
"""

from __future__ import annotations

from dataclasses import replace

from natv2.measure import Cost, cost_model, layer_cost, layer_plan
from natv2.space import SubnetConfig


def exit_head_cost(arch: str, n_classes: int, cfg: SubnetConfig, exit_stage: int) -> Cost:
    """Cost of the exit head placed after stage `exit_stage` for subnet `cfg` (closed form)."""
    model = cost_model(arch, n_classes)
    plan = layer_plan(model.family, replace(cfg, nd=int(exit_stage)), n_classes)
    head = plan[-1]
    if head.kind != "exit_head":
        raise ValueError(f"the last layer of a {arch} plan is {head.kind!r}, not an exit head")
    return layer_cost(head)


def subnet_cost(arch: str, n_classes: int, cfg: SubnetConfig, variant: str = "single") -> Cost:
    """(params, macs) of the network a variant trains: the subnet, or the subnet with exits 1..nd."""
    model = cost_model(arch, n_classes)
    total = model.cost(cfg)
    if variant == "multi_exit":
        for stage in range(1, (cfg.nd or 1)):
            total = total + exit_head_cost(arch, n_classes, cfg, stage)
    return total
