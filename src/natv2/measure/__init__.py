"""Cost measures of subnets: closed-form params/MACs, a hook counter, latency measurement and tables.

Conventions are stated in docs/measures.md and in `natv2.measure.costs`.
"""

from natv2.measure.costs import Cost, CostModel, cost_model, layer_cost
from natv2.measure.counters import count_macs, count_params
from natv2.measure.layout import FAMILIES, ArchFamily, Layer, layer_plan, make_divisible, widths

__all__ = [
    "FAMILIES",
    "ArchFamily",
    "Cost",
    "CostModel",
    "Layer",
    "count_macs",
    "count_params",
    "cost_model",
    "layer_cost",
    "layer_plan",
    "make_divisible",
    "widths",
]
