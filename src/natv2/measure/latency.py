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
from typing import Any, Iterator, Sequence

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


def time_forward(module: nn.Module, x: torch.Tensor, warmup: int, runs: int) -> list[float]:
    """Per-pass wall times (ms) of `module(x)` under inference_mode; the module must be ready (eval, device)."""
    dev = x.device
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(warmup):
            module(x)
        _sync(dev)
        for _ in range(runs):
            t0 = time.perf_counter()
            module(x)
            _sync(dev)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def interleaved_times(items: Sequence[tuple[nn.Module, torch.Tensor]], warmup: int, runs: int, rounds: int) -> list[list[float]]:
    """Per-item pass times (ms) measured round-robin: every item gets `runs` timed passes split over
    `rounds` visits (one untimed pass at each visit). Interleaving spreads slow phases of a shared or
    throttling machine over all items instead of biasing whichever item ran during them."""
    rounds = max(1, min(int(rounds), int(runs)))
    for module, x in items:
        time_forward(module, x, warmup, 0)
    times: list[list[float]] = [[] for _ in items]
    base, extra = divmod(int(runs), rounds)
    for r in range(rounds):
        n = base + (1 if r < extra else 0)
        for i, (module, x) in enumerate(items):
            times[i].extend(time_forward(module, x, 1, n))
    return times


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
