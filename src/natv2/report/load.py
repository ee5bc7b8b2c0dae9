"""What each stage left in the run directory, as plain data for the report (no torch, no live objects).

Each loader returns None when its stage has no output here, and raises `DamagedFile` when an output
exists but is not what the stage writes.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

from natv2.errors import RunDirError
from natv2.export.record import ExportedModel, ExportSummary, ModelMeta
from natv2.finetune.result import FineTuneResult, FineTuneSummary, SkippedJob
from natv2.search.record import SearchFileError, SearchRecord
from natv2.train.metrics import EpochRecord
from natv2.train.supernet_meta import DESCRIPTION as SUPERNET_DESCRIPTION, SupernetMeta
from natv2.io import artifacts as A
from natv2.report.files import DamagedFile, RunFiles, parse_ts

TRAIN_METRICS = A.REL_TRAIN_METRICS
FINETUNE_SUMMARY = A.REL_FINETUNE_SUMMARY
EXPORT_SUMMARY = A.REL_EXPORT_SUMMARY


def _require(cond: bool, rel: str, what: str) -> None:
    if not cond:
        raise DamagedFile(rel, what)


# ---------------------------------------------------------------------- run summary
@dataclass
class StageTiming:
    stage: str
    done: bool
    first: _dt.datetime | None
    last: _dt.datetime | None
    seconds: float  # wall time attributed to the stage over every session that ran it
    sessions: int


@dataclass
class RunInfo:
    config: dict[str, Any] | None
    config_text: str | None
    stages: list[StageTiming]
    created: _dt.datetime | None
    n_events: int
    # settings a resume changed (`config_changed` events): when, why it was allowed, and each key old -> new
    config_changes: list[dict[str, Any]] = field(default_factory=list)


def load_run_info(files: RunFiles) -> RunInfo:
    cfg = files.yaml(A.CONFIG_FILE)
    if cfg is not None and not isinstance(cfg, dict):
        raise DamagedFile(A.CONFIG_FILE, "is not a mapping of sections")
    text = files.path(A.CONFIG_FILE).read_text(encoding="utf-8") if cfg is not None else None
    events = files.jsonl(A.EVENTS_FILE) or []
    for n, ev in enumerate(events, start=1):
        _require(isinstance(ev.get("stage"), str) and isinstance(ev.get("event"), str), A.EVENTS_FILE,
                 f"event {n} has no stage/event")
    created = next((parse_ts(e.get("ts")) for e in events), None)
    changes = [{"ts": e.get("ts"), "reason": (e.get("data") or {}).get("reason"),
                "changes": [c for c in (e.get("data") or {}).get("changes") or [] if isinstance(c, dict)]}
               for e in events if e.get("event") == "config_changed"]
    return RunInfo(cfg, text, stage_timings(events), created, len(events), changes)


def stage_timings(events: list[dict[str, Any]]) -> list[StageTiming]:
    """Wall time per stage from the event log.

    The log has no stage-start events: each command opens the run (a `run` created/resumed event)
    and then works, logging as it goes. So the time between two consecutive events of one session
    is charged to the stage of the later event; sessions add up, so resumed stages count fully.
    """
    stats: dict[str, StageTiming] = {}
    cursor: _dt.datetime | None = None
    seen_in_session: set[str] = set()
    for ev in events:
        ts = parse_ts(ev.get("ts"))
        stage, kind = ev["stage"], ev["event"]
        if stage == "run":
            if kind in ("created", "resumed"):
                cursor, seen_in_session = ts, set()
            continue
        st = stats.setdefault(stage, StageTiming(stage, False, ts, ts, 0.0, 0))
        if stage not in seen_in_session:
            seen_in_session.add(stage)
            st.sessions += 1
        if ts is not None:
            if cursor is not None:
                st.seconds += max(0.0, (ts - cursor).total_seconds())
            st.first = st.first or ts
            st.last = ts
            cursor = ts
        st.done = st.done or kind == "done"
    return list(stats.values())


# ---------------------------------------------------------------------- supernet training
@dataclass
class TrainingData:
    records: list[EpochRecord]  # through the train stage's own reader: accuracies are fractions
    meta: SupernetMeta | None  # how the supernet was trained (its description, through the train stage's reader)

    @property
    def phases(self) -> list[str]:
        return list(dict.fromkeys(r.phase for r in self.records))


def load_training(files: RunFiles) -> TrainingData | None:
    docs = files.jsonl(TRAIN_METRICS)
    if not docs:
        return None
    try:
        records = [EpochRecord.from_dict(d, f"record {n}") for n, d in enumerate(docs, start=1)]
    except RunDirError as err:
        raise DamagedFile(TRAIN_METRICS, err.problem) from None
    return TrainingData(records, SupernetMeta.from_description(files.json(SUPERNET_DESCRIPTION)))


# ---------------------------------------------------------------------- search
def load_search(files: RunFiles) -> SearchRecord | None:
    """What the search left, through the search's own reader (a file it refuses skips the section)."""
    try:
        return SearchRecord.read(files)
    except SearchFileError as err:
        raise DamagedFile(err.rel, err.reason) from None


# ---------------------------------------------------------------------- fine-tuned and exported models
@dataclass
class ModelRow:
    """One final model: the fine-tune result and/or the export metadata of one `models/<folder>`."""

    folder: str
    name: str
    variant: str
    config: dict[str, Any] | None
    finetune: FineTuneResult | None = None
    export: ExportedModel | None = None  # the model's line of export.json
    meta: ModelMeta | None = None  # what models/<folder>/meta.json says (latency details, config, files)
    files: dict[str, str] = field(default_factory=dict)  # label -> path relative to the run directory


@dataclass
class ModelsData:
    rows: list[ModelRow]
    skipped: list[SkippedJob]
    tolerance: float | None
    has_finetune: bool
    has_export: bool


def load_models(files: RunFiles) -> ModelsData | None:
    ft = files.json(FINETUNE_SUMMARY)
    ex = files.json(EXPORT_SUMMARY)
    if ft is None and ex is None:
        return None
    rows: dict[str, ModelRow] = {}
    finetune = _finetune_summary(ft) if ft is not None else None
    for result in finetune.results if finetune is not None else []:
        rows[result.name] = ModelRow(result.name, result.name, result.variant, result.subnet, finetune=result)
    summary = _export_summary(ex) if ex is not None else None
    for m in summary.models if summary is not None else []:
        row = rows.get(m.folder)
        if row is None:
            row = rows[m.folder] = ModelRow(m.folder, m.name, m.variant or "single", None)
        row.export = m
        meta_rel = A.rel(A.MODELS_DIR, m.folder, A.EXPORT_META)
        doc = files.json(meta_rel)
        if doc is not None:
            _require(isinstance(doc, dict), meta_rel, "is not an object")
            row.meta = ModelMeta.from_dict(doc, meta_rel)
            row.config = row.config if row.config is not None else row.meta.config
    for row in rows.values():
        row.files = _model_files(files, row)
    skipped = finetune.skipped if finetune is not None else []
    tolerance = summary.tolerance if summary is not None else None
    return ModelsData(list(rows.values()), skipped, tolerance, ft is not None, ex is not None)


def _export_summary(doc: Any) -> ExportSummary:
    """export.json through the export stage's own reader (its damage skips the section)."""
    try:
        return ExportSummary.from_dict(doc)
    except RunDirError as err:
        raise DamagedFile(EXPORT_SUMMARY, err.problem) from None


def _finetune_summary(doc: Any) -> FineTuneSummary:
    """The fine-tuning summary, through the finetune stage's own reader (its damage skips the section)."""
    try:
        return FineTuneSummary.from_dict(doc)
    except RunDirError as err:
        raise DamagedFile(FINETUNE_SUMMARY, err.problem) from None


# Formats linked from the models table, in this order; others (e.g. the JSON that goes with the safetensors
# file) are reachable through meta.json's folder.
_FORMAT_LABELS = {"onnx": "ONNX", "int8": "INT8 ONNX", "torchscript": "TorchScript", "safetensors": "safetensors"}


def _model_files(files: RunFiles, row: ModelRow) -> dict[str, str]:
    """Links for one model, only to files that exist: exported formats, metadata, fine-tune result."""
    out: dict[str, str] = {}
    exported = dict((row.export.files if row.export else None) or (row.meta.files if row.meta else None) or {})
    for fmt, label in _FORMAT_LABELS.items():
        name = exported.get(fmt)
        rel = A.rel(A.MODELS_DIR, row.folder, str(name))
        if isinstance(name, str) and "/" not in name and files.exists(rel):
            out[label] = rel
    for label, name in (("meta", A.EXPORT_META),):
        rel = A.rel(A.MODELS_DIR, row.folder, name)
        if files.exists(rel):
            out[label] = rel
    weights = A.rel(A.MODELS_DIR, row.folder, A.FINETUNED_STEM + ".safetensors")
    if not exported and files.exists(weights):
        out["weights"] = weights
    return out
