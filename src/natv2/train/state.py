"""`TrainState`: where a supernet training stands, the state file of its checkpoint folder; `AdaptState`: the
same for the search's supernet adaptation (natv2.train.adapt), in its own checkpoint folder.

The trainer writes it after every checkpointed epoch and when training ends; resume and the search
(which can start from an unfinished training's latest weights) read it, always through this class.
The weight and optimiser file names in it belong to `CheckpointStore` (its `CheckpointFiles`), which adds
them on save and alone reads them.
Version 2 holds each phase's best validation top-1 as a fraction; a version-1 file (percent) is converted
when read, so a training started before the change resumes and keeps comparing like with like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from natv2.errors import CheckpointError

STATE_VERSION = 2
PERCENT_ERA = 1  # the last version whose best metrics are in percent
ADAPT_STATE_VERSION = 1


@dataclass(frozen=True)
class TrainState:
    """The last checkpointed epoch of a training: phase, epochs done in it, the best epoch per phase."""

    phase_index: int
    phase: str
    epochs_done: int
    phase_complete: bool
    phases: list[str]
    seed: int
    best: dict[str, dict[str, Any]] = field(default_factory=dict)  # phase -> {"metric": top-1 fraction, "epoch"}
    version: int = STATE_VERSION
    finished: bool = False  # the final supernet is written and the resume files are gone
    supernet_file: str | None = None  # the final supernet's file name, once finished

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], where: str = "the training state") -> "TrainState":
        try:
            version, best = doc.get("version", PERCENT_ERA), dict(doc.get("best") or {})
            if version == PERCENT_ERA:
                best = {k: {**v, "metric": None if v.get("metric") is None else v["metric"] / 100} for k, v in best.items()}
                version = STATE_VERSION
            return cls(phase_index=int(doc["phase_index"]), phase=str(doc["phase"]), epochs_done=int(doc["epochs_done"]),
                       phase_complete=bool(doc["phase_complete"]), phases=list(doc["phases"]), seed=int(doc["seed"]),
                       best=best, version=version,
                       finished=bool(doc.get("finished", False)), supernet_file=doc.get("supernet_file"))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{where} is not a natv2 training state ({type(err).__name__}: {err})",
                                  "start a new run directory (or restore the file)") from None

    def to_dict(self) -> dict[str, Any]:
        """The fields the trainer owns, as written (the store adds its file names)."""
        return {"version": self.version, "phase_index": self.phase_index, "phase": self.phase,
                "epochs_done": self.epochs_done, "phase_complete": self.phase_complete, "phases": list(self.phases),
                "seed": self.seed, "best": self.best}

    def check_setup(self, phases: list[str], seed: int, where: str, fix: str) -> None:
        """Refuse a state another training setup (phases, seed, state version) wrote."""
        if self.version != STATE_VERSION or self.phases != phases or self.seed != seed:
            raise CheckpointError(
                f"the checkpoint in {where} was written by a different training setup "
                f"(phases {self.phases}, seed {self.seed}; now {phases}, seed {seed})", fix)

    def describe(self) -> str:
        return f"phase {self.phase}, {self.epochs_done} epochs"


@dataclass(frozen=True)
class AdaptState:
    """The last checkpointed epoch of the search's supernet adaptation, the setup that wrote it (seed, steps
    per epoch) and every epoch's record (iteration, epoch, loss, lr, seconds)."""

    iteration: int
    epochs_done: int  # epochs done in `iteration`
    epochs: int  # epochs per iteration
    seed: int
    steps_per_epoch: int
    history: list[dict[str, Any]] = field(default_factory=list)
    version: int = ADAPT_STATE_VERSION

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], where: str = "the adaptation state") -> "AdaptState":
        """The state from its parsed file (the store's own fields are ignored).

        Args:
            doc: the parsed state file.
            where: the file, for the error.

        Returns:
            The state.

        Raises:
            CheckpointError: it is not an adaptation state.
        """
        try:
            return cls(iteration=int(doc["iteration"]), epochs_done=int(doc["epochs_done"]), epochs=int(doc["epochs"]),
                       seed=int(doc["seed"]), steps_per_epoch=int(doc["steps_per_epoch"]),
                       history=list(doc.get("history") or []), version=int(doc.get("version", ADAPT_STATE_VERSION)))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{where} is not a natv2 adaptation state ({type(err).__name__}: {err})",
                                  "start a new run directory (or restore the file)") from None

    def to_dict(self) -> dict[str, Any]:
        """The state as written (the store adds its file names)."""
        return {"version": self.version, "iteration": self.iteration, "epochs_done": self.epochs_done,
                "epochs": self.epochs, "seed": self.seed, "steps_per_epoch": self.steps_per_epoch,
                "history": list(self.history)}

    def check_setup(self, seed: int, steps_per_epoch: int, where: str) -> None:
        """Refuse a state another setup (seed, steps per epoch, state version) wrote."""
        if self.version != ADAPT_STATE_VERSION or self.seed != seed or self.steps_per_epoch != steps_per_epoch:
            raise CheckpointError(
                f"the adaptation checkpoint in {where} was written by another setup "
                f"(seed {self.seed}, {self.steps_per_epoch} steps per epoch; now {seed}, {steps_per_epoch})",
                "resume the search with its own settings, or start a new run directory",
            )
