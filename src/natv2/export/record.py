"""The export stage's files as typed records, for every reader outside the export package.

`ExportSummary` is `models/export.json` (written and read only here): one `ExportedModel` line per model
(what was written, its costs, accuracy, latency, parity and, when exported, its INT8 figures).
`ModelMeta` is what readers need of a model's `meta.json` (written by `natv2.export.exporter`). The report
and the command line read these classes, never the JSON's keys, so each file's format has one owner.
Torch-free: the report imports it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from natv2.errors import RunDirError
from natv2.io.artifacts import EXPORT_SUMMARY, stamp
from natv2.io.atomic import atomic_write_json, read_json

INT8_KEY = "int8"  # the meta.json entry of a model's INT8 record and the files key of its INT8 model


@dataclass(frozen=True)
class Int8Summary:
    """A model's INT8 figures: top-1 float vs INT8 on one split, latency (ms) per batch size, speed-up."""

    file: str
    weights: str
    split: str
    top1_float: float
    top1_int8: float
    agreement: float
    latency_ms: dict[str, dict[str, float]]  # {"float": {"1": ms, "64": ms}, "int8": {...}}
    speedup: dict[str, float]
    vnni: bool
    conditions: dict[str, Any]  # runtime, cpu, cpu_flags, threads, runs of the latency measurement
    float_ops: dict[str, int]  # operators onnxruntime runs in float32 (no integer kernel)
    calibration: dict[str, Any]  # split, images, method

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> "Int8Summary":
        """From the full INT8 record of a model's meta.json (natv2.export.quantized writes it)."""
        acc, lat = rec["accuracy"], rec["latency"]
        conditions = {k: lat.get(k) for k in ("runtime", "cpu", "cpu_flags", "threads", "runs", "statistic")}
        return cls(rec["file"], rec["weights"], acc["split"], acc["top1_float"], acc["top1_int8"], acc["agreement"],
                   lat["ms"], lat["speedup"], bool(lat["vnni"]), conditions, dict(rec["operators"]["float"]),
                   dict(rec["calibration"]))


@dataclass(frozen=True)
class ExportedModel:
    """One model of export.json."""

    name: str
    folder: str
    variant: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # format -> file name in the folder
    params: int | None = None
    macs: int | None = None
    accuracy: dict[str, Any] | None = None  # {"top1", "split", "n", "weights", "before_finetune", ...}
    latency_ms: float | None = None
    max_abs_diff: float | None = None  # the largest parity difference over formats and batch sizes
    int8: Int8Summary | None = None

    @classmethod
    def from_meta(cls, folder: str, meta: Mapping[str, Any]) -> "ExportedModel":
        """The line for a model folder, from the meta.json its export wrote."""
        parity = meta.get("parity", {}).get("max_abs_diff", {})  # per format, per batch size
        rec = meta.get(INT8_KEY)
        return cls(name=meta.get("name", folder), folder=folder, variant=meta.get("variant"), files=dict(meta.get("files", {})),
                   params=meta.get("params"), macs=meta.get("macs"), accuracy=meta.get("accuracy"),
                   latency_ms=(meta.get("latency") or {}).get("median_ms"),
                   max_abs_diff=max((d for per in parity.values() for d in per.values()), default=None),
                   int8=Int8Summary.from_record(rec) if rec else None)

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> "ExportedModel":
        """One entry of export.json; a damaged entry is a RunDirError naming it."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("folder"), str):
            raise RunDirError(f"{where} has no folder", "export the run again: natv2 export RUN --force")
        d = dict(doc)
        try:
            int8 = Int8Summary(**d[INT8_KEY]) if d.get(INT8_KEY) else None
            return cls(**{**{k: d.get(k) for k in ("variant", "params", "macs", "accuracy", "latency_ms", "max_abs_diff")},
                          "name": str(d.get("name") or d["folder"]), "folder": d["folder"],
                          "files": dict(d.get("files") or {}), "int8": int8})
        except (TypeError, KeyError) as err:
            raise RunDirError(f"{where} is damaged ({err})", "export the run again: natv2 export RUN --force") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelMeta:
    """A model's meta.json as readers outside export see it (the metadata every exported file carries)."""

    name: str | None = None
    config: dict[str, Any] | None = None  # the subnet's configuration
    resolution: int | None = None
    exits: list[int] | None = None  # a multi-exit model's exits
    accuracy: dict[str, Any] | None = None  # {"top1", "split", "n", "weights", ...}
    latency: dict[str, Any] | None = None  # natv2.measure's latency result: median_ms and its conditions
    params: int | None = None
    macs: int | None = None
    files: dict[str, str] = field(default_factory=dict)  # format -> file name in the folder

    @classmethod
    def from_dict(cls, doc: Any, where: str) -> "ModelMeta":
        if not isinstance(doc, Mapping):
            raise RunDirError(f"{where} is not a JSON object", "export the run again: natv2 export RUN --force")
        pick = {k: doc.get(k) for k in ("name", "resolution", "exits", "params", "macs")}
        dicts = {k: doc.get(k) if isinstance(doc.get(k), Mapping) else None for k in ("config", "accuracy", "latency")}
        return cls(**pick, **dicts, files=dict(doc.get("files") or {}))

    @property
    def latency_ms(self) -> float | None:
        value = (self.latency or {}).get("median_ms")
        return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class ExportSummary:
    """`models/export.json`: every exported model of a run and the parity tolerance they passed."""

    models: list[ExportedModel]
    tolerance: float | None = None

    @classmethod
    def from_dict(cls, doc: Any) -> "ExportSummary":
        if not isinstance(doc, Mapping) or not isinstance(doc.get("models"), list):
            raise RunDirError(f"{EXPORT_SUMMARY} has no 'models' list", "export the run again: natv2 export RUN --force")
        return cls([ExportedModel.from_dict(m, f"{EXPORT_SUMMARY} model {i}") for i, m in enumerate(doc["models"])],
                   doc.get("tolerance"))

    @classmethod
    def read(cls, models_dir: str | Path) -> "ExportSummary":
        return cls.from_dict(read_json(Path(models_dir) / EXPORT_SUMMARY))

    def write(self, models_dir: str | Path) -> Path:
        return atomic_write_json(Path(models_dir) / EXPORT_SUMMARY,
                                 stamp({"models": [m.to_dict() for m in self.models], "tolerance": self.tolerance}))


__all__ = ["INT8_KEY", "ExportSummary", "ExportedModel", "Int8Summary", "ModelMeta"]
