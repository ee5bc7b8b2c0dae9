"""What each stage left in the run directory, as plain data for the report (no torch, no live objects).

Each loader returns None when its stage has no output here, and raises `DamagedFile` when an output
exists but is not what the stage writes.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from natv2.errors import RunDirError
from natv2.export.record import ExportedModel, ExportSummary, ModelMeta
from natv2.finetune.result import FineTuneResult
from natv2.train.metrics import EpochRecord
from natv2.io import artifacts as A
from natv2.report.files import DamagedFile, RunFiles, parse_ts
from natv2.report.units import is_number

TRAIN_METRICS = A.REL_TRAIN_METRICS
TRAIN_META = A.REL_TRAINED_SUPERNET + ".json"
SEARCH_CONFIG = A.REL_SEARCH_CONFIG
SEARCH_FRONT = A.REL_NON_DOMINATED
SEARCH_PICKS = A.REL_HIGH_TRADEOFF
SEARCH_TEST = A.REL_FINAL_TEST
FINETUNE_SUMMARY = A.REL_FINETUNE_SUMMARY
EXPORT_SUMMARY = A.REL_EXPORT_SUMMARY
_ITER_DIR = re.compile(r"^" + A.SEARCH_DIR + r"/iter_(\d+)$")


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
    meta: dict[str, Any] | None

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
    meta = files.json(TRAIN_META)
    return TrainingData(records, meta if isinstance(meta, dict) else None)


# ---------------------------------------------------------------------- search
@dataclass
class Entry:
    """One archive member as the search wrote it: accuracy in [0, 1], costs by objective name."""

    config: dict[str, Any]
    acc: float
    costs: dict[str, float]
    iteration: int

    @property
    def name(self) -> str:
        return subnet_name(self.config)


@dataclass
class Iteration:
    index: int
    archive: list[Entry]
    front: list[Entry]
    stats: dict[str, Any]


@dataclass
class SearchData:
    objectives: list[str]
    settings: dict[str, Any]  # search/config.json "search" (policy, hv_bounds, hv_ref, ...)
    space: dict[str, Any]
    iterations: list[Iteration]
    final_front: list[Entry] | None
    picks: list[Entry] | None
    # test top-1 per canonical subnet key, where the search measured its final subnets (search/final_test.json)
    test_top1: dict[str, float] = field(default_factory=dict)

    @property
    def costs(self) -> list[str]:
        return self.objectives[1:]

    def test_of(self, entry: Entry) -> float | None:
        """The subnet's test top-1 in [0, 1], or None where the search did not measure it."""
        return self.test_top1.get(canonical_key(entry.config)) if self.test_top1 else None

    def is_pick(self, config: Mapping[str, Any]) -> bool:
        if not self.picks:
            return False
        key = canonical_key(config)
        return any(canonical_key(p.config) == key for p in self.picks)


def _entries(data: Any, rel: str, objectives: list[str] | None) -> tuple[list[str], list[Entry]]:
    _require(isinstance(data, dict) and isinstance(data.get("entries"), list), rel, "has no 'entries' list")
    names = list(data.get("objectives") or objectives or [])
    _require(bool(names) and names[0] == "err", rel, "has no objectives list starting with 'err'")
    out = []
    for i, e in enumerate(data["entries"]):
        try:
            objs = e["objectives"]
            acc = float(e["acc"]) if "acc" in e else 1.0 - float(objs["err"])
            costs = {n: float(objs[n]) for n in names[1:]}
            entry = Entry(dict(e["config"]), acc, costs, int(e.get("iteration", 0)))
        except (KeyError, TypeError, ValueError) as err:
            raise DamagedFile(rel, f"entry {i} is incomplete ({type(err).__name__}: {err})") from None
        if not all(math.isfinite(v) for v in (acc, *costs.values())):
            raise DamagedFile(rel, f"entry {i} has a non-finite accuracy or cost")
        out.append(entry)
    return names, out


def load_search(files: RunFiles) -> SearchData | None:
    dirs = [(int(m.group(1)), d) for d in files.glob(A.rel(A.SEARCH_DIR, "iter_*")) if (m := _ITER_DIR.match(d))]
    final = files.exists(SEARCH_FRONT)
    if not dirs and not final:
        return None
    config = files.json(SEARCH_CONFIG) or {}
    _require(isinstance(config, dict), SEARCH_CONFIG, "is not an object")
    objectives = list(config.get("objectives") or [])
    iterations = []
    for index, d in sorted(dirs):
        rel_archive, rel_front, rel_stats = A.rel(d, A.ITER_ARCHIVE), A.rel(d, A.ITER_FRONT), A.rel(d, A.ITER_STATS)
        if not files.exists(rel_archive):
            continue  # an iteration being written right now
        objectives, archive = _entries(files.json(rel_archive), rel_archive, objectives)
        front_data = files.json(rel_front)
        front = _entries(front_data, rel_front, objectives)[1] if front_data is not None else []
        stats = files.json(rel_stats) or {}
        _require(isinstance(stats, dict), rel_stats, "is not an object")
        iterations.append(Iteration(index, archive, front, stats))
    final_front = picks = None
    if final:
        objectives, final_front = _entries(files.json(SEARCH_FRONT), SEARCH_FRONT, objectives)
    if files.exists(SEARCH_PICKS):
        picks = _entries(files.json(SEARCH_PICKS), SEARCH_PICKS, objectives)[1]
    settings = dict(config.get("search") or {})
    return SearchData(objectives, settings, dict(config.get("space") or {}), iterations, final_front, picks,
                      load_final_test(files))


def load_final_test(files: RunFiles) -> dict[str, float]:
    """Test top-1 per canonical subnet key from search/final_test.json ({} when absent).

    Lenient on purpose: the file only adds a number to hover texts, so a damaged file, or an entry that is
    not what the search writes, is left out rather than costing the whole search section."""
    try:
        doc = files.json(SEARCH_TEST)
    except DamagedFile:
        return {}
    out: dict[str, float] = {}
    for e in (doc.get("entries") if isinstance(doc, dict) else None) or []:
        acc = e.get("test_acc") if isinstance(e, dict) else None
        key = canonical_key(e["config"]) if isinstance(e, dict) and isinstance(e.get("config"), dict) else None
        if is_number(acc) and isinstance(key, str):
            out[key] = float(acc)
    return out


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
    skipped: list[dict[str, Any]]
    tolerance: float | None
    has_finetune: bool
    has_export: bool


def load_models(files: RunFiles) -> ModelsData | None:
    ft = files.json(FINETUNE_SUMMARY)
    ex = files.json(EXPORT_SUMMARY)
    if ft is None and ex is None:
        return None
    rows: dict[str, ModelRow] = {}
    if ft is not None:
        _require(isinstance(ft, dict) and isinstance(ft.get("subnets"), list), FINETUNE_SUMMARY, "has no 'subnets' list")
        for i, s in enumerate(ft["subnets"]):
            _require(isinstance(s, dict) and isinstance(s.get("name"), str), FINETUNE_SUMMARY, f"subnet {i} has no name")
            result = _finetune_result(s, i)
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
    skipped = list((ft or {}).get("skipped") or [])
    tolerance = summary.tolerance if summary is not None else None
    return ModelsData(list(rows.values()), skipped, tolerance, ft is not None, ex is not None)


def _export_summary(doc: Any) -> ExportSummary:
    """export.json through the export stage's own reader (its damage skips the section)."""
    try:
        return ExportSummary.from_dict(doc)
    except RunDirError as err:
        raise DamagedFile(EXPORT_SUMMARY, err.problem) from None


def _finetune_result(doc: dict[str, Any], i: int) -> FineTuneResult:
    """One entry of the fine-tuning summary, through the finetune stage's own reader (its damage skips the section)."""
    try:
        return FineTuneResult.from_dict(doc, f"subnet {i}")
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


# ---------------------------------------------------------------------- subnet naming
def canonical_key(config: Mapping[str, Any]) -> str:
    """A key equal for equal subnets (SubnetConfig's canonical form); the raw dict when it is not one."""
    try:
        from natv2.space import SubnetConfig

        return SubnetConfig.from_dict(dict(config)).key
    except Exception:  # noqa: BLE001 - a foreign config still gets a stable key
        import json

        return json.dumps(dict(config), sort_keys=True, default=str)


def subnet_name(config: Mapping[str, Any]) -> str:
    try:
        from natv2.space import SubnetConfig

        return SubnetConfig.from_dict(dict(config)).file_stem()
    except Exception:  # noqa: BLE001
        return "subnet"
