"""The `train` stage (natv2.stage's contract): train the run's supernet, from scratch or from a transfer
source, in its run directory (natv2.train.run does the work)."""

from __future__ import annotations

from natv2.stage import Outcome, StageContext
from natv2.train.trainer import TrainResult


def run(ctx: StageContext) -> Outcome[TrainResult]:
    from natv2.train.run import train_supernet

    result = train_supernet(ctx.config, ctx.run_path, dist=ctx.dist, resume=ctx.resume, events=ctx.events("train"))
    return Outcome(f"trained supernet: {result.weights_path}", {"weights": str(result.weights_path)}, result)
