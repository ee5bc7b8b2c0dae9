"""Issue 23: every stage is `run(ctx: StageContext) -> Outcome[T]` in its own package, and the pipeline
(natv2 run and each stage command) drives exactly those functions."""

from __future__ import annotations

import importlib
import inspect
import typing

import pytest

from natv2.pipeline.run import STAGES
from natv2.stage import Outcome, StageContext

STAGE_PACKAGES = ("train", "search", "finetune", "export", "report")


@pytest.mark.parametrize("package", STAGE_PACKAGES)
def test_every_stage_has_the_one_signature(package):
    run = importlib.import_module(f"natv2.{package}.stage").run
    sig = inspect.signature(run)
    assert list(sig.parameters) == ["ctx"]
    hints = typing.get_type_hints(run)
    assert hints["ctx"] is StageContext
    assert typing.get_origin(hints["return"]) is Outcome


def test_the_pipeline_runs_the_stage_functions_in_order():
    assert [s.name for s in STAGES] == list(STAGE_PACKAGES)
    for stage in STAGES:
        assert stage.runner.__qualname__ == f"natv2.{stage.name}.stage.run"
