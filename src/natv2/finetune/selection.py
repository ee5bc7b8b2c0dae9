"""Which subnets to post-process: the search's front, its high-trade-off picks, named ones, or all.

A run directory's search output is read with the search's own reader (natv2.search.output.SearchOutput).
An archive file a user gives (finetune.archive) is read tolerantly: a list of entries, or an object
holding one under a usual key; each entry holds its subnet under `config` (or `subnet` / `arch`, or is
itself a subnet dict) plus objectives.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from natv2.errors import ConfigError, InvalidSubnetError, RunDirError
from natv2.space import SubnetConfig

_LIST_KEYS = ("entries", "archive", "front", "picks", "subnets", "models", "items", "population")
_CONFIG_KEYS = ("config", "subnet", "arch", "cfg")
_ACC_KEYS = ("acc", "top1", "accuracy", "val_acc", "val_top1")
_ITER_KEYS = ("iteration", "iter", "evaluated_in", "gen")
_COST_KEYS = ("params", "macs", "flops", "latency", "lut_latency")

@dataclass(frozen=True)
class Candidate:
    """One subnet chosen for post-processing, with what the search knew about it."""

    config: SubnetConfig
    index: int
    accuracy: float | None = None
    iteration: int | None = None
    objectives: Mapping[str, float] = field(default_factory=dict)
    origin: str = ""

    @property
    def name(self) -> str:
        return self.config.file_stem()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "index": self.index, "config": self.config.to_dict(), "search_accuracy": self.accuracy,
                "iteration": self.iteration, "objectives": dict(self.objectives), "origin": self.origin}


def _entries(data: Any, where: str) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, Mapping):
        for key in _LIST_KEYS:
            if isinstance(data.get(key), list):
                return data[key]
        if any(k in data for k in ("ks", "e", "d")):
            return [data]
    raise ConfigError(f"{where} holds no list of subnets", f"give a JSON list of entries, or an object with one of {list(_LIST_KEYS)}")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _accuracy(entry: Mapping[str, Any], objectives: Mapping[str, Any]) -> float | None:
    for src in (entry, objectives):
        for key in _ACC_KEYS:
            v = _number(src.get(key))
            if v is not None:
                return v / 100.0 if v > 1.0 else v
        for key in ("err", "error", "top1_err"):
            v = _number(src.get(key))
            if v is not None:
                return 1.0 - (v / 100.0 if v > 1.0 else v)
    return None


def parse_entry(entry: Any, index: int, origin: str) -> Candidate:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{origin} entry {index} is not an object", "each entry must be a JSON object")
    raw = next((entry[k] for k in _CONFIG_KEYS if isinstance(entry.get(k), Mapping)), entry)
    subnet = {k: v for k, v in raw.items() if k in ("ks", "e", "d", "r", "w", "nd", "nw")}
    try:
        cfg = SubnetConfig.from_dict(subnet)
    except InvalidSubnetError as err:
        raise ConfigError(f"{origin} entry {index}: {err.problem}", err.fix) from None
    objectives = entry.get("objectives") if isinstance(entry.get("objectives"), Mapping) else {}
    costs = {k: float(v) for src in (entry, objectives) for k, v in src.items()
             if k in _COST_KEYS and _number(v) is not None}
    iteration = next((int(entry[k]) for k in _ITER_KEYS if _number(entry.get(k)) is not None), None)
    return Candidate(cfg, index, _accuracy(entry, objectives), iteration, costs, origin)


def read_candidates(path: str | Path) -> list[Candidate]:
    """Every subnet of an archive / front / picks JSON file, in file order."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"subnet list '{p}' does not exist", "run `natv2 search` first, or point finetune.archive at a file") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"'{p}' is not valid JSON ({err})", "give the archive / front JSON the search wrote") from None
    return [parse_entry(e, i, p.name) for i, e in enumerate(_entries(data, str(p)))]


def non_dominated(cands: Sequence[Candidate]) -> list[Candidate]:
    """Candidates no other candidate beats on accuracy and every cost they share (ties kept)."""
    keys = sorted(set.intersection(*(set(c.objectives) for c in cands))) if cands else []

    def vec(c: Candidate) -> tuple[float, ...]:
        return (-(c.accuracy if c.accuracy is not None else -math.inf),) + tuple(c.objectives[k] for k in keys)

    vecs = [vec(c) for c in cands]
    out = []
    for i, vi in enumerate(vecs):
        dominated = any(all(a <= b for a, b in zip(vj, vi)) and vj != vi for j, vj in enumerate(vecs) if j != i)
        if not dominated:
            out.append(cands[i])
    return out


def _dedupe(cands: Iterable[Candidate]) -> list[Candidate]:
    seen: set[SubnetConfig] = set()
    out = []
    for c in cands:
        if c.config not in seen:
            seen.add(c.config)
            out.append(c)
    return out


def _match(cands: Sequence[Candidate], name: str) -> Candidate:
    if name.isdigit():
        idx = int(name)
        hits = [c for c in cands if c.index == idx]
    else:
        hits = [c for c in cands if c.name == name or c.config.key.startswith(name) or c.name.startswith(name)]
    if len(hits) != 1:
        what = "matches no subnet" if not hits else f"matches {len(hits)} subnets"
        raise ConfigError(f"finetune name {name!r} {what} of the archive",
                          "use a file stem (e.g. r32-w1-abc123def456), a unique digest prefix or an archive index")
    return hits[0]


def from_search(output: Any) -> list[Candidate]:
    """Candidates from what the search wrote (a natv2.search.output.SearchOutput), in file order."""
    names = output.objectives
    return [Candidate(e.config, i, float(e.acc), int(e.iteration), dict(zip(names[1:], map(float, e.costs))),
                      output.path.name) for i, e in enumerate(output.entries)]


def _from_run(root: Path, select: str) -> list[Candidate]:
    from natv2.search.output import SearchOutput

    direct = SearchOutput.find(root, select)
    if direct is not None:
        return from_search(direct)
    archive = SearchOutput.latest_archive(root)
    if archive is None:
        raise RunDirError(f"run directory '{root}' holds no search results",
                          "run `natv2 search` first (or set finetune.archive to an archive JSON)")
    if select == "picks":
        raise RunDirError(f"run directory '{root}' has no high-trade-off picks file",
                          "finish `natv2 search`, or use finetune.select=front")
    cands = from_search(archive)
    return non_dominated(cands) if select == "front" else cands


def select_subnets(select: str, run_dir: str | Path | None = None, archive: str | Path | None = None,
                   names: Sequence[str] = (), max_subnets: int | None = None) -> list[Candidate]:
    """The subnets to post-process, most accurate first (deduplicated by canonical config)."""
    root = Path(run_dir) if run_dir is not None else None
    if archive is not None:
        cands = read_candidates(archive)
        if select == "front":
            cands = non_dominated(cands)
    else:
        if root is None:
            raise ConfigError("no run directory and no archive file given", "pass --run-dir or set finetune.archive")
        cands = _from_run(root, select)
    if select == "named":
        cands = [_match(cands, n) for n in names]
    cands = _dedupe(cands)
    if select != "named":
        cands = sorted(cands, key=lambda c: -(c.accuracy if c.accuracy is not None else -1.0))
    if max_subnets is not None:
        cands = cands[:max_subnets]
    if not cands:
        raise ConfigError("no subnets were selected for post-processing", "check finetune.select / finetune.names")
    return cands
