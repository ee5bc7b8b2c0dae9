"""A transfer run's record of its source (train/source.json), read without torch.

`natv2.supernets.source` resolves a source and writes this record; the report, export and resume only
read it, so reading lives here, beside the run directory's layout, where the report can use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from natv2.errors import CheckpointError
from natv2.io.artifacts import Layout

SOURCE_FORMAT = "natv2-transfer-source"
_FIX = "restore it, or start the run again"


def read_source_record(run_path: str | Path) -> dict[str, Any] | None:
    """The source record of a transfer run, or None for a run that trained from scratch."""
    path = Layout(run_path).transfer_source
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"transfer source record {path} is not valid JSON: {exc}", _FIX) from None
    if not isinstance(doc, dict):
        raise CheckpointError(f"transfer source record {path} is not a JSON object", _FIX)
    if doc.get("format") != SOURCE_FORMAT:
        raise CheckpointError(f"{path} is not a natv2 transfer source record (format={doc.get('format')!r})",
                              _FIX)
    return doc


def source_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a source record an exported model carries: what it was transferred from."""
    keys = ("dataset", "n_classes", "supernet", "width_mult", "resolutions", "sha256", "path", "kind")
    return {k: record.get(k) for k in keys}


def describe_source(record: Mapping[str, Any]) -> str:
    """One line for people: the source's dataset and classes, family, resolutions and hash."""
    target = record.get("target") or {}
    parts = [f"{record.get('dataset') or 'unknown dataset'} ({record.get('n_classes')} classes)",
             f"{record.get('supernet')} ×{record.get('width_mult')}",
             f"trained at {', '.join(str(r) for r in record.get('resolutions') or [])} px",
             f"here at {', '.join(str(r) for r in (target.get('space') or {}).get('r') or [])} px" if target else "",
             f"warm-up recipe {target.get('recipe')}" if target.get("recipe") else "",
             f"sha256 {str(record.get('sha256'))[:12]}", str(record.get("path") or "")]
    return " · ".join(p for p in parts if p)
