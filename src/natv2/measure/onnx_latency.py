"""Measured latency of an ONNX file run by onnxruntime on the CPU (float or INT8 alike).

The same statistics as `measure_latency` (median over timed passes after untimed ones), so a
float and an INT8 model of one network, or a PyTorch module and its ONNX file, are comparable.
Several files measured together are timed round-robin (`interleaved_calls`), so a slow phase of a
shared machine does not favour whichever file ran first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from natv2.measure.latency import LatencyResult, device_name, interleaved_calls, summarize
from natv2.runtime.onnx_file import INPUT_NAME, onnxruntime_version, open_session


def session_call(session: Any, x: np.ndarray) -> Callable[[], Any]:
    """One forward pass of an open session on `x`, as a timed call."""
    feed = {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)}
    return lambda: session.run(None, feed)


def measure_onnx_latencies(paths: Sequence[str | Path], resolution: int, batch_size: int = 1, threads: int = 1,
                           warmup: int = 10, runs: int = 50, rounds: int = 5, seed: int = 0) -> list[LatencyResult]:
    """Latency of each file on one seeded (batch_size, 3, r, r) input, measured round-robin."""
    x = np.random.default_rng(seed).standard_normal((batch_size, 3, resolution, resolution)).astype(np.float32)
    calls = [session_call(open_session(p, threads), x) for p in paths]
    meta = dict(warmup=warmup, batch_size=batch_size, resolution=resolution, threads=threads, device="cpu",
                device_name=device_name("cpu"), channels_last=False, torch_version="",
                runtime=f"onnxruntime {onnxruntime_version()}")
    return [summarize(t, runs=runs, **meta) for t in interleaved_calls(calls, warmup, runs, rounds)]


def measure_onnx_latency(path: str | Path, resolution: int, **kwargs: Any) -> LatencyResult:
    """Latency of one ONNX file (see `measure_onnx_latencies` for the arguments)."""
    return measure_onnx_latencies([path], resolution, **kwargs)[0]


__all__ = ["measure_onnx_latencies", "measure_onnx_latency", "session_call"]
