"""The run-directory contract: every path and file name of a run directory, and each stage's output.

One module owns the layout so that producers and consumers cannot drift apart: a stage writes its
files where `Layout` says and a later stage (or the report) finds them through the same object,
never by spelling a file name. Each stage's output is a typed artifact (`TrainedSupernet`,
`SearchOutput`, `FineTuned`, `Exported`, `ReportPage`) whose readers reuse the producer's own
serialisers (imported lazily: this module stays import-light, torch-free, so `natv2.io` stays at
the bottom of the package graph).

What is inside a stage's files is read, outside the stage, only through the producer's own torch-free
classes: natv2.train.state.TrainState and natv2.train.metrics.EpochRecord, natv2.search.record (and
natv2.search.output for the finetune stage), natv2.finetune.result, natv2.export.record.

Layout (relative to the run directory):

    config.yaml  events.jsonl  .lock                the run itself (natv2.io.rundir)
    checkpoints/state.json ...                       supernet training checkpoints
    train/metrics.jsonl  train/supernet.{json,safetensors}   the trained supernet
    train/source.json                                the source supernet of a transfer run
    search/config.json history.json journal.jsonl    the search's settings, progress and journal
    search/iter_NNN/{archive,front,stats}.json       one folder per search iteration
    search/{archive,non_dominated,high_tradeoff,final_test}.json   the search's results
    search/supernet.{json,safetensors}  search/adapt/     the adapted supernet and its checkpoints
    models/finetune.json  models/<name>/{finetune.json,finetuned.*}   fine-tuned models
    models/export.json    models/<name>/{meta.json,model.*}           exported models
    report/index.html                                 the report

Schema: summaries written by this version carry `"schema": RUN_SCHEMA`; a file without it was
written before the key existed (schema 1, which this version reads). A newer schema is refused with
a message naming both versions instead of being half-read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from natv2.errors import RunDirError

RUN_SCHEMA = 1
SCHEMA_KEY = "schema"

# ---------------------------------------------------------------------- names (the only place they are spelled)
CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.jsonl"
LOCK_FILE = ".lock"
RUN_MARKERS = (CONFIG_FILE, EVENTS_FILE, LOCK_FILE)

CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_STATE = "state.json"  # natv2.train.checkpoint's commit point

TRAIN_DIR = "train"
TRAIN_METRICS = "metrics.jsonl"
TRAIN_PLOT = "val_accuracy.png"
SUPERNET_STEM = "supernet"  # <stem>.json + <stem>.safetensors (natv2.supernets.save_supernet)
TRANSFER_SOURCE = "source.json"  # train/source.json: the source a transfer run started from (natv2.supernets.source)

SEARCH_DIR = "search"
SEARCH_CONFIG = "config.json"
SEARCH_HISTORY = "history.json"
SEARCH_JOURNAL = "journal.jsonl"
SEARCH_ADAPT_DIR = "adapt"
ITER_ARCHIVE = "archive.json"
ITER_FRONT = "front.json"
ITER_STATS = "stats.json"
FINAL_ARCHIVE = "archive.json"
NON_DOMINATED = "non_dominated.json"
HIGH_TRADEOFF = "high_tradeoff.json"
FINAL_TEST = "final_test.json"
_ITER_NAME = re.compile(r"^iter_(\d+)$")

MODELS_DIR = "models"
FINETUNE_SUMMARY = "finetune.json"  # models/finetune.json (all models) and models/<name>/finetune.json (one)
FINETUNE_RESULT = FINETUNE_SUMMARY
FINETUNED_STEM = "finetuned"
EXPORT_SUMMARY = "export.json"
EXPORT_META = "meta.json"
EXPORT_STEM = "model"  # model.{json,safetensors,pt,onnx} (natv2.export.bundle / formats)

REPORT_DIR = "report"
REPORT_INDEX = "index.html"


def iter_name(iteration: int) -> str:
    return f"iter_{int(iteration):03d}"


def rel(*parts: str) -> str:
    """A path relative to the run directory, as the report's file reader takes it."""
    return "/".join(parts)


# Relative paths the report and the stage-output checks use.
REL_TRAIN_METRICS = rel(TRAIN_DIR, TRAIN_METRICS)
REL_TRAINED_SUPERNET = rel(TRAIN_DIR, SUPERNET_STEM)
REL_TRANSFER_SOURCE = rel(TRAIN_DIR, TRANSFER_SOURCE)
REL_ADAPTED_SUPERNET = rel(SEARCH_DIR, SUPERNET_STEM)
REL_SEARCH_CONFIG = rel(SEARCH_DIR, SEARCH_CONFIG)
REL_SEARCH_HISTORY = rel(SEARCH_DIR, SEARCH_HISTORY)
REL_NON_DOMINATED = rel(SEARCH_DIR, NON_DOMINATED)
REL_HIGH_TRADEOFF = rel(SEARCH_DIR, HIGH_TRADEOFF)
REL_FINETUNE_SUMMARY = rel(MODELS_DIR, FINETUNE_SUMMARY)
REL_EXPORT_SUMMARY = rel(MODELS_DIR, EXPORT_SUMMARY)
REL_CHECKPOINT_STATE = rel(CHECKPOINTS_DIR, CHECKPOINT_STATE)
REL_REPORT_INDEX = rel(REPORT_DIR, REPORT_INDEX)
REL_FINAL_TEST = rel(SEARCH_DIR, FINAL_TEST)

# Files whose presence shows a stage's output when the event log does not (e.g. `run_search(run_dir=...)`).
STAGE_FILES: dict[str, tuple[str, ...]] = {
    "train": (REL_TRAIN_METRICS, REL_TRAINED_SUPERNET + ".json"),
    "search": (REL_SEARCH_CONFIG, REL_NON_DOMINATED, rel(SEARCH_DIR, iter_name(0), ITER_ARCHIVE)),
    "finetune": (REL_FINETUNE_SUMMARY,),
    "export": (REL_EXPORT_SUMMARY,),
}
# Globs of each stage's results (besides its events): a config change is judged against them.
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "train": (REL_CHECKPOINT_STATE, rel(TRAIN_DIR, "*")),
    "search": (rel(SEARCH_DIR, "*"),),
    "finetune": (REL_FINETUNE_SUMMARY, rel(MODELS_DIR, "*", FINETUNE_RESULT), rel(MODELS_DIR, "*", FINETUNED_STEM + ".*")),
    "export": (REL_EXPORT_SUMMARY, rel(MODELS_DIR, "*", EXPORT_META), rel(MODELS_DIR, "*", EXPORT_STEM + ".*")),
}


@dataclass(frozen=True)
class Layout:
    """Every path of one run directory, from its root."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    # run
    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def events(self) -> Path:
        return self.root / EVENTS_FILE

    @property
    def lock(self) -> Path:
        return self.root / LOCK_FILE

    # train
    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def checkpoint_state(self) -> Path:
        return self.checkpoints / CHECKPOINT_STATE

    @property
    def train(self) -> Path:
        return self.root / TRAIN_DIR

    @property
    def train_metrics(self) -> Path:
        return self.train / TRAIN_METRICS

    @property
    def train_plot(self) -> Path:
        return self.train / TRAIN_PLOT

    @property
    def trained_supernet(self) -> Path:
        return self.train / SUPERNET_STEM

    @property
    def transfer_source(self) -> Path:
        return self.train / TRANSFER_SOURCE

    # search
    @property
    def search(self) -> Path:
        return self.root / SEARCH_DIR

    @property
    def adapted_supernet(self) -> Path:
        return self.search / SUPERNET_STEM

    @property
    def adapt_checkpoints(self) -> Path:
        return self.search / SEARCH_ADAPT_DIR

    def iteration(self, it: int) -> Path:
        return self.search / iter_name(it)

    def iterations(self) -> list[tuple[int, Path]]:
        """(number, folder) of every search iteration written so far, in order."""
        if not self.search.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.search.iterdir() if p.is_dir() and (m := _ITER_NAME.match(p.name))]
        return sorted(found)

    # models
    @property
    def models(self) -> Path:
        return self.root / MODELS_DIR

    @property
    def report(self) -> Path:
        return self.root / REPORT_DIR

    @property
    def report_index(self) -> Path:
        return self.report / REPORT_INDEX


def search_files(search_dir: str | Path) -> "SearchFiles":
    """The files of a search folder (`run_search(run_dir=...)` writes <run_dir>/search)."""
    return SearchFiles(Path(search_dir))


@dataclass(frozen=True)
class SearchFiles:
    """The file names inside one search folder; the search loop and its readers share them."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / SEARCH_CONFIG

    @property
    def history(self) -> Path:
        return self.root / SEARCH_HISTORY

    @property
    def journal(self) -> Path:
        return self.root / SEARCH_JOURNAL

    @property
    def non_dominated(self) -> Path:
        return self.root / NON_DOMINATED

    @property
    def high_tradeoff(self) -> Path:
        return self.root / HIGH_TRADEOFF

    @property
    def final_archive(self) -> Path:
        return self.root / FINAL_ARCHIVE

    @property
    def final_test(self) -> Path:
        return self.root / FINAL_TEST

    def iteration(self, it: int) -> Path:
        return self.root / iter_name(it)

    def iter_archive(self, it: int) -> Path:
        return self.iteration(it) / ITER_ARCHIVE

    def iter_front(self, it: int) -> Path:
        return self.iteration(it) / ITER_FRONT

    def iter_stats(self, it: int) -> Path:
        return self.iteration(it) / ITER_STATS


@dataclass(frozen=True)
class ModelFiles:
    """The files of one model folder under models/ (fine-tuned result, weights, export metadata)."""

    root: Path

    @property
    def finetune_result(self) -> Path:
        return self.root / FINETUNE_RESULT

    @property
    def finetuned(self) -> Path:
        return self.root / FINETUNED_STEM

    @property
    def export_meta(self) -> Path:
        return self.root / EXPORT_META


# ---------------------------------------------------------------------- schema
def stamp(doc: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` with this version's schema number, for a summary a stage writes."""
    return {SCHEMA_KEY: RUN_SCHEMA, **doc}


def check_schema(doc: Any, where: str | Path) -> Any:
    """Refuse a file written under a newer run-directory schema; a file without one is schema 1."""
    version = doc.get(SCHEMA_KEY, 1) if isinstance(doc, Mapping) else 1
    if not isinstance(version, int) or version > RUN_SCHEMA:
        raise RunDirError(
            f"{where} was written with run-directory schema {version!r}; this natv2 reads schema {RUN_SCHEMA} and older",
            "read it with the natv2 version that wrote it, or re-run that stage into a new run directory")
    return doc


def read_json_checked(path: Path) -> Any:
    """A summary file, parsed and schema-checked (RunDirError names the file when it does not parse)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as err:
        raise RunDirError(f"{path} cannot be read ({err})", "re-run the stage that writes it") from None
    return check_schema(doc, path)


# ---------------------------------------------------------------------- typed stage outputs


@dataclass(frozen=True)
class _Summary:
    """A stage's summary file under models/ (its producer writes it with `stamp`)."""

    path: Path
    summary: dict[str, Any]
    FILE = ""

    @classmethod
    def read(cls, root: str | Path) -> "Any":
        path = Layout(root).models / cls.FILE
        return cls(path, read_json_checked(path)) if path.is_file() else None


class FineTuned(_Summary):
    """models/finetune.json: every fine-tuned model of the run (natv2.finetune.runner writes it)."""

    FILE = FINETUNE_SUMMARY


class Exported(_Summary):
    """models/export.json: every exported model of the run (natv2.export.runner writes it)."""

    FILE = EXPORT_SUMMARY


@dataclass(frozen=True)
class ReportPage:
    """report/index.html (natv2.report writes it)."""

    index: Path

    @classmethod
    def find(cls, root: str | Path) -> "ReportPage | None":
        index = Layout(root).report_index
        return cls(index) if index.is_file() else None
