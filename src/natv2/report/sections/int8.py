"""The INT8 table of the final-models section: float vs INT8 top-1 and latency per exported model.

Read from each model's INT8 record (written by `natv2 export` with export.int8=true); a run
exported without INT8 gets no table.
"""

from __future__ import annotations

from typing import Any

from natv2.report.html import Html, join, table, tag
from natv2.report.load import ModelRow
from natv2.report.units import fmt, pct, signed_pp

INT8_KEY = "int8"  # the entry export writes per model (natv2.export.quantized.INT8_KEY); the report imports no torch


def _record(row: ModelRow) -> dict[str, Any] | None:
    rec = (row.meta or {}).get(INT8_KEY)
    return rec if isinstance(rec, dict) and isinstance(rec.get("accuracy"), dict) else None


def _conditions(rec: dict[str, Any]) -> str:
    lat = rec.get("latency") or {}
    flags = ", ".join(lat.get("cpu_flags") or []) or "none read"
    floats = ", ".join(f"{op} ×{n}" for op, n in ((rec.get("operators") or {}).get("float") or {}).items()) or "none"
    calib = rec.get("calibration") or {}
    return (f"Latency: {lat.get('runtime', 'onnxruntime')}, {lat.get('cpu', 'CPU')} (flags: {flags}; VNNI "
            f"{'yes' if lat.get('vnni') else 'no'}), {lat.get('threads')} thread(s), median of {lat.get('runs')} runs. "
            f"INT8: {(rec.get('quantization') or {}).get('format', 'QDQ')}, uint8 activations calibrated "
            f"({calib.get('method', 'minmax')}) on {calib.get('images')} {calib.get('split', 'train')} images; weight "
            f"scales per channel or per tensor, whichever scored better on the validation split. "
            f"Left in float (no integer kernel in onnxruntime): {floats}.")


def int8_table(rows: list[ModelRow]) -> Html | None:
    """Per model: top-1 float vs INT8 on the report split, agreement, latency and speed-up per batch size."""
    recs = [(k, row, rec) for k, row in enumerate(rows, start=1) if (rec := _record(row)) is not None]
    if not recs:
        return None
    batches = list((recs[0][2].get("latency") or {}).get("ms", {}).get("float", {}))
    headers = ["#", "model", "weights", "top-1 float (%)", "top-1 INT8 (%)", "Δ (pp)", "same top class (%)"]
    for b in batches:
        headers += [f"float b{b} (ms)", f"INT8 b{b} (ms)", f"speed-up b{b}"]
    body = []
    for k, row, rec in recs:
        acc, ms = rec["accuracy"], (rec.get("latency") or {}).get("ms", {})
        line = [k, tag("code", row.name), str(rec.get("weights", "")).replace("_", " "), pct(acc.get("top1_float")),
                pct(acc.get("top1_int8")), signed_pp(acc["top1_int8"] - acc["top1_float"]), pct(acc.get("agreement"))]
        for b in batches:
            f, q = ms.get("float", {}).get(b), ms.get("int8", {}).get(b)
            line += [fmt(f), fmt(q), f"{f / q:.2f}×" if f and q else "–"]
        body.append(line)
    split = recs[0][2]["accuracy"].get("split", "test")
    return join([table(headers, body, numeric=range(3, len(headers)), class_="data"),
                 tag("p", f"Top-1 on the {split} split, float and INT8 ONNX files run by the same pipeline. ",
                     _conditions(recs[0][2]), class_="caption")])


__all__ = ["int8_table"]
