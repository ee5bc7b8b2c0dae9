"""The `report` stage (natv2.stage's contract): the run's HTML report, rebuilt from its files."""

from __future__ import annotations

from pathlib import Path

from natv2.stage import Outcome, StageContext


def run(ctx: StageContext) -> Outcome[Path]:
    from natv2.report.build import build_report

    index = build_report(ctx.run_path)
    return Outcome(f"report: {index}", {}, index)
