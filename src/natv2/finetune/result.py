"""`FineTuneResult`: the record of one fine-tuned model, in its model folder (`FINETUNE_RESULT`), and
`FineTuneSummary`: every model of the run and the jobs skipped (the models folder's `FINETUNE_SUMMARY`).

The finetune stage writes them and every other stage reads them through these classes, so the files' keys
have one owner: export asks for `test_after` and `search_iteration`, not for nested dictionary keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from natv2.errors import RunDirError
from natv2.io.artifacts import FINETUNE_RESULT
from natv2.io.atomic import atomic_write_json, read_json

Score = Mapping[str, Any]  # {"split", "top1" (a fraction), "loss", "n"}


@dataclass(frozen=True)
class FineTuneResult:
    """One (subnet, variant) the two-step protocol finished: what it is, its costs and its scores."""

    name: str
    variant: str
    subnet: dict[str, Any]
    supernet: str | None
    n_classes: int
    resolution: int
    params: int
    macs: int
    e_star: int | None
    before: dict[str, Score] = field(default_factory=dict)  # split -> score, inherited weights
    after: dict[str, Score] = field(default_factory=dict)  # split -> score, fine-tuned weights
    search: dict[str, Any] = field(default_factory=dict)  # where the search found it
    exits: list[int] | None = None  # multi-exit variant only
    exit_weights: dict[str, Any] | None = None  # multi-exit variant only: ordering, alpha, beta
    record: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the whole file

    @property
    def test_before(self) -> Score | None:
        return self.before.get("test")

    @property
    def test_after(self) -> Score | None:
        return self.after.get("test")

    @property
    def search_iteration(self) -> int | None:
        return self.search.get("iteration")

    @property
    def seconds_total(self) -> float | None:
        """Wall seconds the job took (both steps and the test), as the runner timed it."""
        return (self.record.get("seconds") or {}).get("total")

    @property
    def exit_output_weights(self) -> list[float] | None:
        return None if self.exit_weights is None else self.exit_weights.get("beta")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], where: str = "result") -> "FineTuneResult":
        try:
            return cls(name=doc["name"], variant=doc["variant"], subnet=dict(doc["subnet"]), supernet=doc.get("supernet"),
                       n_classes=int(doc["n_classes"]), resolution=int(doc["resolution"]), params=int(doc["params"]),
                       macs=int(doc["macs"]), e_star=doc.get("e_star"), before=dict(doc.get("before") or {}),
                       after=dict(doc.get("after") or {}), search=dict(doc.get("search") or {}), exits=doc.get("exits"),
                       exit_weights=doc.get("exit_weights"), record={k: v for k, v in doc.items() if k != "history"})
        except (KeyError, TypeError, ValueError) as err:
            raise RunDirError(f"{where} is not a fine-tuning result ({type(err).__name__}: {err})",
                              "re-run `natv2 finetune` for that model (delete its folder first)") from None

    @classmethod
    def read(cls, folder: str | Path) -> "FineTuneResult":
        path = Path(folder) / FINETUNE_RESULT
        return cls.from_dict(read_json(path), str(path))

    @staticmethod
    def exists(folder: str | Path) -> bool:
        return (Path(folder) / FINETUNE_RESULT).is_file()

    @staticmethod
    def folders(models_dir: str | Path) -> list[Path]:
        """Model folders holding a finished result, in name order."""
        return sorted(p.parent for p in Path(models_dir).glob(f"*/{FINETUNE_RESULT}"))

    @staticmethod
    def write(folder: str | Path, summary: Mapping[str, Any], history: Any) -> None:
        """Write a model's record (its summary and per-epoch history), atomically; checked by reading it back."""
        FineTuneResult.from_dict(summary, str(folder))
        atomic_write_json(Path(folder) / FINETUNE_RESULT, {**summary, "history": history})

    def to_dict(self) -> dict[str, Any]:
        """The summary as written (without the per-epoch history)."""
        return dict(self.record)


@dataclass(frozen=True)
class SkippedJob:
    """A (subnet, variant) the fine-tuning did not run, and why (e.g. a multi-exit variant without two exits)."""

    name: str | None
    variant: str | None
    reason: str | None

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "SkippedJob":
        """One entry of the summary's skipped list (a missing value is None)."""
        name, variant, reason = (doc.get(k) for k in ("name", "variant", "reason"))
        return cls(*(None if v is None else str(v) for v in (name, variant, reason)))


@dataclass(frozen=True)
class FineTuneSummary:
    """The summary of a run's fine-tuning (`natv2.finetune.runner` writes it): each model's result, in the
    order written, and the jobs skipped."""

    results: list[FineTuneResult]
    skipped: list[SkippedJob] = field(default_factory=list)

    @classmethod
    def from_dict(cls, doc: Any) -> "FineTuneSummary":
        """The summary from its parsed file.

        Args:
            doc: the parsed file.

        Returns:
            The summary.

        Raises:
            RunDirError: it is not what the runner writes (its problem says what is wrong).
        """
        fix = "re-run `natv2 finetune` (it rewrites the summary)"
        if not (isinstance(doc, dict) and isinstance(doc.get("subnets"), list)):
            raise RunDirError("has no 'subnets' list", fix)
        results = []
        for i, s in enumerate(doc["subnets"]):
            if not (isinstance(s, dict) and isinstance(s.get("name"), str)):
                raise RunDirError(f"subnet {i} has no name", fix)
            results.append(FineTuneResult.from_dict(s, f"subnet {i}"))
        skipped = [SkippedJob.from_dict(s) for s in doc.get("skipped") or [] if isinstance(s, Mapping)]
        return cls(results, skipped)
