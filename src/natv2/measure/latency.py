"""Measured inference latency of a module: warm-up, N timed forward passes, median and spread.

Every result records what it was measured under (batch, threads, device, torch version, memory
format), because a latency number without those is not comparable with anything.
"""

from __future__ import annotations

import copy
import platform
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class LatencyResult:
    """Latency of one forward pass, in milliseconds, over `runs` timed passes after `warmup` ones."""

    median_ms: float
    mean_ms: float
    p10_ms: float
    p90_ms: float
    q25_ms: float
    q75_ms: float
    min_ms: float
    runs: int
    warmup: int
    batch_size: int
    resolution: int
    threads: int
    device: str
    device_name: str
    channels_last: bool
    torch_version: str
    runtime: str = "torch"  # what ran the passes: torch eager, or onnxruntime (see natv2.measure.onnx_latency)

    @property
    def iqr_ms(self) -> float:
        return self.q75_ms - self.q25_ms

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def device_name(device: torch.device | str) -> str:
    """Human-readable name of the device (CPU model or GPU name)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


INSTRUCTION_SETS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "asimddp", "i8mm")


def cpu_flags() -> list[str]:
    """The instruction sets that decide integer (INT8) and float speed on this CPU, as /proc/cpuinfo
    names them (empty where it cannot be read): VNNI (avx512_vnni / avx_vnni) makes int8 dot products
    one instruction; without it onnxruntime's uint8 x int8 kernels are slower and can saturate."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    present = set(line.split(":", 1)[1].split())
                    return [f for f in INSTRUCTION_SETS if f in present]
    except OSError:
        pass
    return []


def has_vnni(flags: Sequence[str]) -> bool:
    return any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Temporarily set torch's intra-op thread count (restored on exit); yields the count in force."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(int(threads))
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(call: Callable[[], Any], warmup: int, runs: int) -> list[float]:
    """Per-call wall times (ms) of `call()` after `warmup` untimed calls; `call` must finish its work
    before returning (a CUDA forward synchronises, see `forward_call`)."""
    for _ in range(warmup):
        call()
    times: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def forward_call(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """`module(x)` as a timed call: synchronised on CUDA so the time includes the kernels, not their launch."""
    dev = x.device

    def call() -> None:
        module(x)
        _sync(dev)

    return call


def time_forward(module: nn.Module, x: torch.Tensor, warmup: int, runs: int) -> list[float]:
    """Per-pass wall times (ms) of `module(x)` under inference_mode; the module must be ready (eval, device)."""
    with torch.inference_mode():
        return time_calls(forward_call(module, x), warmup, runs)


def interleaved_calls(calls: Sequence[Callable[[], Any]], warmup: int, runs: int, rounds: int) -> list[list[float]]:
    """Per-call times (ms) measured round-robin: every call gets `runs` timed repetitions split over
    `rounds` visits (one untimed repetition at each visit). Interleaving spreads slow phases of a shared
    or throttling machine over all calls instead of biasing whichever ran during them."""
    rounds = max(1, min(int(rounds), int(runs)))
    for call in calls:
        time_calls(call, warmup, 0)
    times: list[list[float]] = [[] for _ in calls]
    base, extra = divmod(int(runs), rounds)
    for r in range(rounds):
        n = base + (1 if r < extra else 0)
        for i, call in enumerate(calls):
            times[i].extend(time_calls(call, 1, n))
    return times


def interleaved_times(items: Sequence[tuple[nn.Module, torch.Tensor]], warmup: int, runs: int, rounds: int) -> list[list[float]]:
    """`interleaved_calls` over forward passes `module(x)`, under inference_mode."""
    with torch.inference_mode():
        return interleaved_calls([forward_call(m, x) for m, x in items], warmup, runs, rounds)


def prepare(module: nn.Module, device: torch.device, channels_last: bool, copy_module: bool = True) -> nn.Module:
    """An eval-mode copy on `device` (channels_last if asked), leaving the caller's module untouched."""
    net = copy.deepcopy(module) if copy_module else module
    net = net.to(device).eval()
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def make_input(shape: tuple[int, ...], device: torch.device, channels_last: bool) -> torch.Tensor:
    x = torch.randn(shape, device=device)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


def summarize(times: list[float], **meta: Any) -> LatencyResult:
    a = np.asarray(times, dtype=float)
    p10, q25, q75, p90 = np.percentile(a, [10, 25, 75, 90]).tolist()
    return LatencyResult(
        median_ms=float(statistics.median(times)),
        mean_ms=float(a.mean()),
        p10_ms=p10,
        p90_ms=p90,
        q25_ms=q25,
        q75_ms=q75,
        min_ms=float(a.min()),
        **meta,
    )


def measure_latency(
    module: nn.Module,
    resolution: int,
    batch_size: int = 1,
    threads: int | None = None,
    device: str | torch.device = "cpu",
    warmup: int = 10,
    runs: int = 50,
    channels_last: bool | None = None,
    in_channels: int = 3,
) -> LatencyResult:
    """Wall-clock latency of `module` on a (batch_size, in_channels, r, r) input.

    Runs on an eval-mode copy under torch.inference_mode (the caller's module is not changed).
    threads: torch intra-op threads for the measurement (None = current setting; restored after).
    channels_last: NHWC memory format; default True on CPU (1.4-2.8x faster for MobileNets), False on GPU.
    On CUDA each pass is synchronised, so times include the kernels, not only their launch.
    """
    dev = torch.device(device)
    if channels_last is None:
        channels_last = dev.type == "cpu"
    if runs < 1 or warmup < 0:
        raise ValueError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    with torch_threads(threads) as n_threads:
        net = prepare(module, dev, channels_last)
        x = make_input((batch_size, in_channels, resolution, resolution), dev, channels_last)
        times = time_forward(net, x, warmup, runs)
    return summarize(
        times,
        runs=runs,
        warmup=warmup,
        batch_size=batch_size,
        resolution=resolution,
        threads=n_threads,
        device=str(dev),
        device_name=device_name(dev),
        channels_last=channels_last,
        torch_version=torch.__version__,
    )


def measure_subnet_latency(supernet: Any, cfg: Any, **kwargs: Any) -> LatencyResult:
    """Measured latency of one subnet (the `latency` objective; slow, so used only when asked).

    Activates `cfg` on `supernet`, extracts the plain network and times it at cfg.r with
    `measure_latency(**kwargs)`. The supernet's active subnet is restored afterwards.
    """
    before = getattr(supernet, "active_subnet", None)
    cfg = supernet.set_active_subnet(cfg) or cfg
    try:
        net = supernet.extract_subnet()
    finally:
        if before is not None:
            supernet.set_active_subnet(before)
    return measure_latency(net, cfg.r, **kwargs)
