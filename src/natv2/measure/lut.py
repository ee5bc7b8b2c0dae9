"""Per-layer latency look-up table, built on the user's own device, and its validation.

`LatencyTable.build` times every distinct layer (kind + shape, see `Layer.key`) a supernet family
can produce at the given resolutions, once each, and `predict(cfg)` sums the layers of a subnet's
plan (OFA's method, spec §1.6). `validate_table` says how far that sum is from measuring whole
extracted subnets, because per-layer sums miss inter-layer overheads and cache effects.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
import yaml
from torch import nn

from natv2.errors import ConfigError
from natv2.io import atomic_write_json, atomic_write_text
from natv2.measure.blocks import build_layer, layer_input_shape
from natv2.measure.latency import device_name
from natv2.measure.layout import Layer, get_family, layer_plan
from natv2.measure.timing_backends import TORCH, TimingBackend, TimingSetting, get_backend, table_backend
from natv2.space import N_LAYERS, N_STAGES, SearchSpace, SubnetConfig

TABLE_FORMAT = 1


def covering_configs(arch: str, space: SearchSpace) -> Iterable[SubnetConfig]:
    """Configs whose plans together contain every layer any subnet of `space` can hold.

    A layer's shape depends on its stage, whether it is a stage's first block, k, e, r, w, the exit
    and the branch mask, so uniform-(k, e) configs at every depth, exit and branch pattern suffice.
    """
    family = get_family(arch)
    nds: Sequence[int | None] = tuple(space.nd) if (family.exits and space.nd) else (None,)
    if family.parallel:
        nws: Sequence[int | None] = tuple(space.nw) if space.nw else tuple(range(1, 8))
    else:
        nws = (None,)
    for r, w, k, e, d, nd, nw in itertools.product(space.r, space.w, space.ks, space.e, space.d, nds, nws):
        yield SubnetConfig(
            ks=(k,) * N_LAYERS,
            e=(e,) * N_LAYERS,
            d=(d,) * N_STAGES,
            r=r,
            w=w,
            nd=nd,
            nw=None if nw is None else (nw,) * N_LAYERS,
        )


def distinct_layers(arch: str, n_classes: int, space: SearchSpace) -> list[Layer]:
    """Every distinct layer of the family over `space`, in first-seen order."""
    family = get_family(arch)
    seen: dict[Layer, None] = {}
    for cfg in covering_configs(arch, space):
        for layer in layer_plan(family, cfg, n_classes):
            seen.setdefault(layer, None)
    return list(seen)


def time_layers(
    layers: Sequence[Layer], device: torch.device, warmup: int, runs: int, channels_last: bool, batch_size: int = 1,
    rounds: int = 5, backend: str = TORCH, threads: int = 1,
) -> list[float]:
    """Median latency (ms) of each layer's stand-alone module, measured in interleaved rounds by `backend`.

    `threads` is what the backend's own thread setting gets (onnxruntime sessions); torch's is set by the caller.
    """
    items = ((build_layer(L), layer_input_shape(L, batch_size)) for L in layers)  # lazy: same RNG order as ever
    setting = TimingSetting(torch.device(device), channels_last, threads, warmup, runs, rounds)
    return [float(np.median(t)) for t in get_backend(backend).time(items, setting)]


def _timing_meta(timing: TimingBackend, dev: torch.device, threads: int, batch_size: int, channels_last: bool,
                 warmup: int, runs: int, rounds: int) -> dict[str, Any]:
    """How and where a table was timed: a number is only comparable with one measured the same way."""
    return {
        "device": str(dev),
        "device_name": device_name(dev),
        "threads": threads,
        "batch_size": batch_size,
        "channels_last": channels_last,
        "warmup": warmup,
        "runs": runs,
        "rounds": rounds,
        "statistic": "median",
        "torch_version": torch.__version__,
        **timing.describe(),
    }


@dataclass
class LatencyTable:
    """Median latency (ms) per layer key, plus how and where it was measured (`meta`)."""

    entries: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(
        cls,
        arch: str = "ofa_mbv3",
        n_classes: int = 1000,
        width_mult: float = 1.0,
        resolutions: Sequence[int] = (224,),
        device: str | torch.device = "cpu",
        threads: int | None = None,
        warmup: int = 10,
        runs: int = 50,
        channels_last: bool | None = None,
        batch_size: int = 1,
        space: SearchSpace | None = None,
        rounds: int = 5,
        backend: str = TORCH,
    ) -> "LatencyTable":
        """Time every distinct layer of `arch` at `resolutions` on `device`, once each.

        space: the elastic choices to cover (k, e, d, nd, nw); defaults to OFA's k{3,5,7} e{3,4,6}
        d{2,3,4}, every exit (early-exit families) and every mask key (parallel families).
        Its r and w are replaced by `resolutions` and `width_mult`. Each layer gets `warmup` untimed
        and `runs` timed passes, spread over `rounds` interleaved visits (robust to slow phases).
        backend: the runtime that times them (natv2.measure.timing_backends): "torch" (float, eager) or
        "onnxruntime-int8" (ONNX export, static INT8 quantization, onnxruntime on the CPU; `threads`
        are then onnxruntime's intra-op threads). Calibration and validation reuse the table's backend.
        """
        family = get_family(arch)
        dev = torch.device(device)
        timing = get_backend(backend)
        timing.check_device(dev)
        channels_last = timing.channels_last(dev, channels_last)
        space = space or SearchSpace(
            nd=(1, 2, 3, 4, 5) if family.exits else None, nw=tuple(range(1, 8)) if family.parallel else None
        )
        space = space.restrict(r=tuple(int(r) for r in resolutions), w=(float(width_mult),))
        layers = distinct_layers(arch, n_classes, space)
        t0 = time.perf_counter()
        with timing.threads(threads) as n_threads, torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            times = time_layers(layers, dev, warmup, runs, channels_last, batch_size, rounds, backend, n_threads)
            entries = {layer.key(): ms for layer, ms in zip(layers, times)}
        meta = {
            "format": TABLE_FORMAT,
            "arch": arch,
            "n_classes": int(n_classes),
            "width_mult": float(width_mult),
            "resolutions": sorted(int(r) for r in resolutions),
            "space": space.to_dict(),
            **_timing_meta(timing, dev, n_threads, batch_size, channels_last, warmup, runs, rounds),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - t0, 3),
            "n_entries": len(entries),
        }
        return cls(entries, json.loads(json.dumps(meta)))  # plain JSON types (YAML-safe)

    @property
    def backend(self) -> str:
        """The runtime the entries were timed with ("torch" or "onnxruntime-int8"; see timing_backends)."""
        return table_backend(self.meta)

    @property
    def precision(self) -> str:
        """The arithmetic the timed layers ran in ("float32" or "int8")."""
        return str(self.meta.get("precision", get_backend(self.backend).precision))

    # ------------------------------------------------------------------ prediction
    def layer_latencies(self, cfg: SubnetConfig) -> list[tuple[str, float]]:
        """(key, ms) for every layer of `cfg`; raises if the table lacks one."""
        family = get_family(self.meta["arch"])
        out = []
        for layer in layer_plan(family, cfg, self.meta["n_classes"]):
            key = layer.key()
            try:
                out.append((key, self.entries[key]))
            except KeyError:
                raise ConfigError(
                    f"latency table has no entry for layer '{key}' (table built for {self.meta['arch']}, "
                    f"w={self.meta['width_mult']}, resolutions {self.meta['resolutions']}; subnet has r={cfg.r}, w={cfg.w})",
                    "rebuild the table with this subnet's resolution and width (LatencyTable.build)",
                ) from None
        return out

    def predict_raw(self, cfg: SubnetConfig) -> float:
        """Sum of the table entries of `cfg`'s layers (ms), without calibration."""
        return float(sum(ms for _, ms in self.layer_latencies(cfg)))

    def predict(self, cfg: SubnetConfig) -> float:
        """Predicted latency (ms) of `cfg`: the sum of its layers' entries, then `scale*sum + offset`
        if the table was calibrated (`calibrate`); the scale is positive, so ranking never changes."""
        raw = self.predict_raw(cfg)
        cal = self.meta.get("calibration")
        return raw if not cal else float(cal["scale"] * raw + cal["offset_ms"])

    def calibrate(
        self, supernet: Any, n: int = 10, seed: int = 1_000_003, space: SearchSpace | None = None, **measure: Any
    ) -> "LatencyTable":
        """A copy whose predictions are fitted (least squares, measured = scale*sum + offset) to `n`
        measured random subnets (a median ratio if the slope is not positive). Per-layer sums miss the network's own overhead (module dispatch,
        cache misses between layers); the fit absorbs the systematic part. Validate on other subnets
        (validate_table's default seed differs from this one)."""
        if n < 2:
            raise ValueError("calibration needs at least 2 subnets")
        cfgs, preds, meas = _measure_random_subnets(self, supernet, n, seed, space, raw=True, **measure)
        p, m = np.asarray(preds), np.asarray(meas)
        scale, offset = np.polyfit(p, m, 1)
        if not scale > 0:  # noisy measurements: keep the ranking, fit a ratio only
            scale, offset = float(np.median(m / p)), 0.0
        meta = dict(self.meta)
        meta["calibration"] = {"scale": float(scale), "offset_ms": float(offset), "n": int(n), "seed": int(seed)}
        return LatencyTable(dict(self.entries), meta)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return {"meta": self.meta, "entries": dict(sorted(self.entries.items()))}

    def save(self, path: str | Path) -> Path:
        """Write as JSON, or YAML when the suffix is .yaml/.yml (atomic)."""
        path = Path(path)
        if path.suffix in (".yaml", ".yml"):
            return atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "LatencyTable":
        """The table saved at `path` (JSON, or YAML by suffix); ConfigError when it is missing, unreadable or
        not a natv2 table (config resolution and the search both read a table through here)."""
        path = Path(path)
        fix = "build one on this machine with natv2 latency-table PATH (or LatencyTable.build(...).save(PATH))"
        if not path.exists():
            raise ConfigError(f"latency table {path} does not exist", fix)
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
        except (OSError, ValueError, yaml.YAMLError) as err:
            raise ConfigError(f"latency table {path} cannot be read ({type(err).__name__}: {err})", fix) from None
        meta = data.get("meta") if isinstance(data, Mapping) else None
        if not isinstance(meta, Mapping) or not isinstance(data.get("entries"), Mapping):
            raise ConfigError(f"{path} is not a natv2 latency table (no 'meta'/'entries')", "rebuild the table")
        if meta.get("format") != TABLE_FORMAT:
            raise ConfigError(f"latency table {path} has format {meta.get('format')}, expected {TABLE_FORMAT}",
                              "rebuild the table")
        try:
            entries = {str(k): float(v) for k, v in data["entries"].items()}
        except (TypeError, ValueError) as err:
            raise ConfigError(f"latency table {path} has a non-numeric entry ({err})", "rebuild the table") from None
        return cls(entries, dict(meta))


# ---------------------------------------------------------------------- validation
@dataclass(frozen=True)
class TableValidation:
    """How far table predictions are from measured latency on random subnets."""

    n: int
    mean_abs_pct_error: float
    median_abs_pct_error: float
    max_abs_pct_error: float
    mean_signed_pct_error: float
    spearman: float
    kendall: float
    predicted_ms: tuple[float, ...]
    measured_ms: tuple[float, ...]
    configs: tuple[dict, ...]
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls, predicted: Sequence[float], measured: Sequence[float], configs: Sequence[dict] = (), meta: dict | None = None
    ) -> "TableValidation":
        """Error and rank statistics of predictions against measurements."""
        from scipy.stats import kendalltau, spearmanr

        p, m = np.asarray(predicted, dtype=float), np.asarray(measured, dtype=float)
        rel = (p - m) / m * 100.0
        n = len(p)
        return cls(
            n=n,
            mean_abs_pct_error=float(np.abs(rel).mean()),
            median_abs_pct_error=float(np.median(np.abs(rel))),
            max_abs_pct_error=float(np.abs(rel).max()),
            mean_signed_pct_error=float(rel.mean()),
            spearman=float(spearmanr(p, m).statistic) if n > 1 else float("nan"),
            kendall=float(kendalltau(p, m).statistic) if n > 1 else float("nan"),
            predicted_ms=tuple(float(v) for v in p),
            measured_ms=tuple(float(v) for v in m),
            configs=tuple(configs),
            meta=dict(meta or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"n={self.n}: mean |err| {self.mean_abs_pct_error:.1f}%, median |err| {self.median_abs_pct_error:.1f}%, "
            f"max |err| {self.max_abs_pct_error:.1f}%, mean signed err {self.mean_signed_pct_error:+.1f}%, "
            f"Spearman {self.spearman:.3f}, Kendall {self.kendall:.3f}"
        )


def validate_table(
    table: LatencyTable,
    supernet: Any,
    n: int = 50,
    seed: int = 0,
    space: SearchSpace | None = None,
    warmup: int | None = None,
    runs: int | None = None,
    extract: Callable[[Any, SubnetConfig], nn.Module] | None = None,
    rounds: int | None = None,
) -> TableValidation:
    """Compare `table.predict` with the measured latency of `n` random extracted subnets.

    Subnets are sampled from `space` (default: `supernet.space` restricted to the table's
    resolutions and width). Measurement uses the table's own backend (torch, or onnxruntime INT8 on
    ONNX-exported, quantized subnets), device, threads, batch and memory format; warmup/runs/rounds
    default to the table's. All subnets are extracted first and timed round-robin
    (`interleaved_calls`), so a slow phase of the machine does not bias a few of them.
    """
    cfgs, preds, meas = _measure_random_subnets(table, supernet, n, seed, space, extract=extract, warmup=warmup, runs=runs, rounds=rounds)
    meta = {"seed": seed, "backend": table.backend, "precision": table.precision,
            **{k: table.meta.get(k) for k in ("arch", "device_name", "threads", "resolutions", "calibration")}}
    return TableValidation.from_arrays(preds, meas, cfgs, meta)


def _measure_random_subnets(
    table: LatencyTable,
    supernet: Any,
    n: int,
    seed: int,
    space: SearchSpace | None = None,
    extract: Callable[[Any, SubnetConfig], nn.Module] | None = None,
    warmup: int | None = None,
    runs: int | None = None,
    rounds: int | None = None,
    raw: bool = False,
) -> tuple[list[dict], list[float], list[float]]:
    """(configs, predictions, measured medians) of `n` random subnets, measured as the table was built:
    same backend (an INT8 table times ONNX-exported, quantized subnets in onnxruntime), device, threads,
    batch and memory format."""
    meta = table.meta
    space = space or getattr(supernet, "space")
    space = space.restrict(r=tuple(meta["resolutions"]), w=(float(meta["width_mult"]),))
    rng = np.random.default_rng(seed)
    extract = extract or _extract
    sampled = [space.sample(rng) for _ in range(n)]
    preds = [table.predict_raw(cfg) if raw else table.predict(cfg) for cfg in sampled]
    timing = get_backend(table.backend)
    dev = torch.device(meta.get("device", "cpu"))
    timing.check_device(dev)
    batch = int(meta.get("batch_size", 1))
    items = ((extract(supernet, cfg), (batch, 3, cfg.r, cfg.r)) for cfg in sampled)  # extracted as timing needs them
    before = getattr(supernet, "active_subnet", None)
    with timing.threads(meta.get("threads")) as n_threads, torch.random.fork_rng(devices=[]):
        setting = TimingSetting(
            dev,
            timing.channels_last(dev, meta.get("channels_last")),
            n_threads,
            meta.get("warmup", 10) if warmup is None else warmup,
            meta.get("runs", 50) if runs is None else runs,
            meta.get("rounds", 5) if rounds is None else rounds,
        )
        times = timing.time(items, setting)
    if before is not None:
        supernet.set_active_subnet(before)
    meas = [float(np.median(t)) for t in times]
    return [cfg.to_dict() for cfg in sampled], preds, meas


def _extract(supernet: Any, cfg: SubnetConfig) -> nn.Module:
    supernet.set_active_subnet(cfg)
    return supernet.extract_subnet()


__all__ = ["LatencyTable", "TableValidation", "covering_configs", "distinct_layers", "validate_table"]
