"""The stage contract. Every stage of a run (train, search, finetune, export, report) is one function,

    run(ctx: StageContext) -> Outcome[T]

in its own package's `stage` module, so that `natv2 run`, each stage command and any script drive
them the same way (natv2.pipeline.run holds the order). The context carries what every stage needs;
the outcome what it produced. Import-light: no torch, no other natv2 package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

if TYPE_CHECKING:
    from natv2.io.artifacts import Layout
    from natv2.io.rundir import RunDir
    from natv2.pipeline.config import RunConfig

T = TypeVar("T")
Log = Callable[[str], None]
EventSink = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class StageContext:
    """What a stage gets: the resolved config, the open (locked) run directory (None on the ranks other
    than 0 under torchrun), the run's path on every rank, the distributed context, a logger."""

    config: "RunConfig"
    run: "RunDir | None"
    dist: Any  # natv2.train.dist.DistContext (its device is the run's device)
    log: Log
    path: Path | None = None  # default: run.path
    resume: bool = True  # train: continue from the last checkpoint (natv2 train-supernet without --resume: False)

    @property
    def run_path(self) -> Path:
        return Path(self.path if self.path is not None else self.run.path)

    @property
    def layout(self) -> "Layout":
        from natv2.io.artifacts import Layout

        return Layout(self.run_path)

    @property
    def device(self) -> Any:
        return self.dist.device

    def events(self, stage: str) -> EventSink:
        """The stage's event log (a no-op on ranks without the run directory)."""
        if self.run is None:
            return lambda kind, data: None
        return lambda kind, data: self.run.log_event(stage, kind, **data)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a stage returns: a one-line summary, the payload of its `done` event, and its own result
    (the typed artifact the per-stage command prints from)."""

    summary: str
    done: dict[str, Any] = field(default_factory=dict)
    result: T | None = None


StageRun = Callable[[StageContext], Outcome[Any]]
