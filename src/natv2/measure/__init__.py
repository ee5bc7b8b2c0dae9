"""Cost measures of subnets: closed-form params/MACs, a hook counter, latency measurement and tables.

* `cost_model(arch, n_classes).params(cfg)` / `.macs(cfg)`: exact counts from the config alone
  (no torch; tens of thousands of configs per second), equal to `count_params` / `count_macs` of
  the extracted network.
* `measure_latency(module, r, ...)`: measured latency with its conditions recorded.
* `LatencyTable.build(...)` / `.predict(cfg)` / `validate_table(...)`: per-layer latency tables
  built on the user's own device.

Conventions are stated in docs/measures.md and in `natv2.measure.costs`.
"""

from natv2.measure.costs import LAYER_COSTS, Cost, CostModel, cost_model, layer_cost
from natv2.measure.counters import count_macs, count_params
from natv2.measure.latency import LatencyResult, measure_latency, measure_subnet_latency
from natv2.measure.layout import FAMILIES, ArchFamily, Layer, get_family, layer_plan, make_divisible, widths
from natv2.measure.lut import LatencyTable, TableValidation, validate_table

__all__ = [
    "FAMILIES",
    "LAYER_COSTS",
    "ArchFamily",
    "Cost",
    "CostModel",
    "LatencyResult",
    "LatencyTable",
    "Layer",
    "TableValidation",
    "count_macs",
    "count_params",
    "cost_model",
    "get_family",
    "layer_cost",
    "layer_plan",
    "make_divisible",
    "measure_latency",
    "measure_subnet_latency",
    "validate_table",
    "widths",
]
