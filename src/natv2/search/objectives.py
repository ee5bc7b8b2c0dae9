"""Objectives of the search: a registry of name -> factory, so users add their own without editing the loop.

Every objective is minimised. "err" (1 - top-1 accuracy) comes from the evaluator; every other objective
is an exact, cheap function of the `SubnetConfig` (closed-form params / MACs, latency table, measured
latency), computed for every individual the evolutionary search proposes.

A factory takes an `ObjectiveContext` (space, supernet family, classes, optional latency table /
supernet) and returns ``cfg -> float``. Users may also pass ``(name, fn)`` pairs or `Objective`s
directly to `run_search`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

from natv2.errors import ConfigError
from natv2.registry import Registry
from natv2.space import SearchSpace, SubnetConfig

CostFn = Callable[[SubnetConfig], float]


@dataclass(frozen=True)
class ObjectiveContext:
    """What cost factories may need. `arch` selects the cost-model family; `extra` holds user items."""

    space: SearchSpace
    arch: str = "ofa_mbv3"
    n_classes: int = 1000
    latency_table: Any = None  # a natv2.measure LatencyTable, or a path to one
    supernet: Any = None  # for measured latency: set_active_subnet(cfg) + extract_subnet()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Objective:
    """A named objective. `fn` is None only for "err", which the evaluator supplies."""

    name: str
    fn: CostFn | None = None

    @property
    def is_error(self) -> bool:
        return self.fn is None


class ObjectiveRegistry:
    """name -> factory(ObjectiveContext) -> cost function."""

    def __init__(self) -> None:
        self._factories: Registry[Callable[[ObjectiveContext], CostFn]] = Registry(
            "objective", fix="choose from ['err', *{names}], or pass (name, function) to add your own")
        self._factories.add("err", _error_placeholder)  # the evaluator's objective: the name is taken

    def register(self, name: str) -> Callable[[Callable[[ObjectiveContext], CostFn]], Callable[[ObjectiveContext], CostFn]]:
        """Decorator: add a cost factory under `name`; a taken name is refused (DuplicateNameError)."""
        return self._factories.register(name)

    def names(self) -> list[str]:
        return ["err", *(n for n in self._factories.names() if n != "err")]

    def build(self, name: str, context: ObjectiveContext) -> Objective:
        factory = self._factories.get(name)
        return Objective("err") if factory is _error_placeholder else Objective(name, factory(context))


def _error_placeholder(context: ObjectiveContext) -> CostFn:
    raise AssertionError("'err' is computed by the evaluator, never built from a factory")


OBJECTIVES = ObjectiveRegistry()
"""Registry of search objectives by name (err, params, macs, latency, lut_latency); `search.objectives` names them."""


@OBJECTIVES.register("params")
def _params(ctx: ObjectiveContext) -> CostFn:
    from natv2.measure import cost_model

    model = cost_model(ctx.arch, ctx.n_classes)
    return lambda cfg: float(model.params(cfg))


@OBJECTIVES.register("macs")
def _macs(ctx: ObjectiveContext) -> CostFn:
    from natv2.measure import cost_model

    model = cost_model(ctx.arch, ctx.n_classes)
    return lambda cfg: float(model.macs(cfg))


@OBJECTIVES.register("lut_latency")
def _lut_latency(ctx: ObjectiveContext) -> CostFn:
    table = ctx.latency_table
    if table is None or table == "":
        raise ConfigError(
            "objective 'lut_latency' needs a latency table, and search_stage.latency_table is not set",
            "build one on this machine with natv2 latency-table PATH, then --set search_stage.latency_table=PATH "
            "(or pass latency_table=<LatencyTable or path> to run_search)",
        )
    if isinstance(table, (str, Path)):
        from natv2.measure.lut import LatencyTable

        table = LatencyTable.load(table)
    return lambda cfg: float(table.predict(cfg))


@OBJECTIVES.register("latency")
def _measured_latency(ctx: ObjectiveContext) -> CostFn:
    supernet = ctx.supernet
    if supernet is None:
        raise ConfigError(
            "objective 'latency' (measured) needs a supernet to extract subnets from",
            "pass supernet=<supernet>, or use 'lut_latency' with a latency table",
        )
    from natv2.measure.latency import measure_subnet_latency

    options = dict(ctx.extra.get("latency_options", {"threads": 1}))
    return lambda cfg: float(measure_subnet_latency(supernet, cfg, **options).median_ms)


ObjectiveSpec = Union[str, Objective, tuple]


def resolve_objectives(
    specs: Sequence[ObjectiveSpec], context: ObjectiveContext, registry: ObjectiveRegistry = OBJECTIVES
) -> list[Objective]:
    """Names, `Objective`s or (name, fn) pairs -> objectives, "err" first."""
    out: list[Objective] = []
    for spec in specs:
        if isinstance(spec, Objective):
            out.append(spec)
        elif isinstance(spec, str):
            out.append(registry.build(spec, context))
        elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and callable(spec[1]):
            out.append(Objective(spec[0], spec[1]))
        else:
            raise ConfigError(
                f"objective {spec!r} is neither a name, an Objective nor a (name, function) pair",
                f"use names from {registry.names()} or ('my_cost', fn)",
            )
    names = [o.name for o in out]
    if not names or names[0] != "err" or names.count("err") != 1:
        raise ConfigError(f"objectives {names} must contain 'err' exactly once, first", "e.g. objectives=['err', 'params']")
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives {names} repeat a name", "list each objective once")
    return out
