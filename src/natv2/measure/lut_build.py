"""Build, calibrate and validate a latency table for one supernet on this machine, in one call.

What `natv2 latency-table` runs; the pieces are natv2.measure.lut's. Timing uses random weights
(latency does not depend on their values), so no trained supernet or dataset is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from natv2.measure.lut import LatencyTable, TableValidation, validate_table
from natv2.measure.timing_backends import TORCH, get_backend


@dataclass(frozen=True)
class TableRequest:
    """Which supernet and space to cover, and how to time it."""

    supernet: str
    n_classes: int
    width_mult: float
    resolutions: tuple[int, ...]
    space: Mapping[str, Any]  # further narrowing of the supernet's space (k, e, d, nd, nw)
    device: str = "cpu"
    threads: int = 1
    batch_size: int = 1
    warmup: int = 10
    runs: int = 50
    rounds: int = 5
    calibrate: int = 10  # random subnets the per-layer sum is fitted to (0: no calibration)
    validate: int = 20  # other random subnets the prediction is checked on (0: no validation)
    seed: int = 0
    backend: str = TORCH  # natv2.measure.timing_backends: "torch" (float) or "onnxruntime-int8"


def build_calibrated_table(req: TableRequest, log: Callable[[str], None] = lambda m: None
                           ) -> tuple[LatencyTable, TableValidation | None]:
    """The table (calibrated when asked) and its validation on subnets it was not fitted to."""
    import torch

    from natv2.supernets import create

    timing = get_backend(req.backend)
    timing.check_device(torch.device(req.device))  # refuse before building anything
    overrides = {**dict(req.space), "r": list(req.resolutions)}
    supernet = create(req.supernet, req.n_classes, req.width_mult, **overrides).eval()
    log(f"timing every distinct layer of {req.supernet} (w={req.width_mult}, r={list(req.resolutions)}) "
        f"on {req.device} with {timing.label}")
    table = LatencyTable.build(req.supernet, req.n_classes, req.width_mult, req.resolutions, device=req.device,
                               threads=req.threads, warmup=req.warmup, runs=req.runs, batch_size=req.batch_size,
                               space=supernet.space, rounds=req.rounds, backend=req.backend)
    if table.precision == "int8" and not table.meta.get("vnni"):
        log("note: this CPU has no VNNI instructions, so onnxruntime's INT8 kernels may be no faster than float here")
    log(f"{len(table.entries)} layers timed in {table.meta['build_seconds']:.1f} s")
    if req.calibrate:
        log(f"calibrating on {req.calibrate} measured random subnets")
        table = table.calibrate(supernet, n=req.calibrate, seed=req.seed + 1_000_003)
    report = None
    if req.validate:
        log(f"validating on {req.validate} other measured random subnets")
        report = validate_table(table, supernet, n=req.validate, seed=req.seed)
        table.meta["validation"] = {k: v for k, v in report.to_dict().items()
                                    if k not in ("predicted_ms", "measured_ms", "configs")}
    return table, report


__all__ = ["TableRequest", "build_calibrated_table"]
