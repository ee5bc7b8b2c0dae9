"""The INT8 table of the final-models section: float vs INT8 top-1 and latency per exported model.

Read from each model's line of export.json (`ExportedModel.int8`, written by `natv2 export` with
export.int8=true); a run exported without INT8 gets no table.
"""

from __future__ import annotations

from natv2.export.record import Int8Summary
from natv2.report.html import Html, join, table, tag
from natv2.report.load import ModelRow
from natv2.report.units import fmt, pct, signed_pp


def _conditions(q: Int8Summary) -> str:
    c = q.conditions
    flags = ", ".join(c.get("cpu_flags") or []) or "none read"
    floats = ", ".join(f"{op} ×{n}" for op, n in q.float_ops.items()) or "none"
    return (f"Latency: {c.get('runtime') or 'onnxruntime'}, {c.get('cpu') or 'CPU'} (flags: {flags}; VNNI "
            f"{'yes' if q.vnni else 'no'}), {c.get('threads')} thread(s), median of {c.get('runs')} runs. "
            f"INT8: QDQ, uint8 activations calibrated ({q.calibration.get('method', 'minmax')}) on "
            f"{q.calibration.get('images')} {q.calibration.get('split', 'train')} images; weight scales per channel or "
            f"per tensor, whichever scored better on the validation split. "
            f"Left in float (no integer kernel in onnxruntime): {floats}.")


def int8_table(rows: list[ModelRow]) -> Html | None:
    """Per model: top-1 float vs INT8 on the report split, agreement, latency and speed-up per batch size."""
    recs = [(k, row, row.export.int8) for k, row in enumerate(rows, start=1) if row.export and row.export.int8]
    if not recs:
        return None
    batches = list(recs[0][2].latency_ms.get("float", {}))
    headers = ["#", "model", "weights", "top-1 float (%)", "top-1 INT8 (%)", "Δ (pp)", "same top class (%)"]
    for b in batches:
        headers += [f"float b{b} (ms)", f"INT8 b{b} (ms)", f"speed-up b{b}"]
    body = []
    for k, row, q in recs:
        line = [k, tag("code", row.name), q.weights.replace("_", " "), pct(q.top1_float), pct(q.top1_int8),
                signed_pp(q.top1_int8 - q.top1_float), pct(q.agreement)]
        for b in batches:
            f, i = q.latency_ms.get("float", {}).get(b), q.latency_ms.get("int8", {}).get(b)
            line += [fmt(f), fmt(i), f"{f / i:.2f}×" if f and i else "–"]
        body.append(line)
    slower = [row.name for _, row, q in recs if all(v < 1 for v in q.speedup.values())]
    advice = (f" On this CPU the float file is the faster one for {', '.join(slower)}: deploy it there." if slower else "")
    return join([table(headers, body, numeric=range(3, len(headers)), class_="data"),
                 tag("p", f"Top-1 on the {recs[0][2].split} split, float and INT8 ONNX files run by the same pipeline. ",
                     _conditions(recs[0][2]), advice, class_="caption")])


__all__ = ["int8_table"]
