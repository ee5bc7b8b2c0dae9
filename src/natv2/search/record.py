"""What a search left in a run directory, as typed plain data for whoever reads it after the search (the
report): its settings, each iteration's archive, front and statistics, the final front, the high-trade-off
picks and the final test. The search package owns these files' keys; a reader outside it asks this module
and never indexes the JSON. Torch-, numpy- and pymoo-free, so the report loads without them.

Reading is lenient where a file can still be shown (an entry without `acc` has 1 - err; a config that is
not a natv2 subnet is kept as written; the final test only adds numbers, so its damage leaves it out) and
strict where it cannot (no entries list, a non-finite accuracy): `SearchFileError` names the file.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

from natv2.errors import RunDirError
from natv2.io import artifacts as A

CONFIG = A.REL_SEARCH_CONFIG
"""The search's settings, space and objectives (run-relative path)."""
FRONT = A.REL_NON_DOMINATED
"""The final non-dominated set (run-relative path)."""
PICKS = A.REL_HIGH_TRADEOFF
"""The high-trade-off picks (run-relative path)."""
FINAL_TEST = A.REL_FINAL_TEST
"""Test top-1 of the final subnets (run-relative path)."""
MARKERS = (A.REL_SEARCH_CONFIG, A.REL_SEARCH_HISTORY)
"""Files whose presence shows that a search wrote into a folder."""
_ITER_DIR = re.compile(r"^" + A.SEARCH_DIR + r"/iter_(\d+)$")


class SearchFileError(RunDirError):
    """A search file that exists but is not what the search writes; `rel`: its path in the run directory."""

    def __init__(self, rel: str, reason: str) -> None:
        super().__init__(f"{rel}: {reason}", "delete the file (re-running natv2 search rewrites it)")
        self.rel = rel
        self.reason = reason


class RunReader(Protocol):
    """Read access to a run directory by relative path (natv2.report.files.RunFiles is one); its own
    errors (a file that does not parse) pass through the readers here."""

    def json(self, rel: str) -> Any | None:
        """The parsed file, None when it does not exist."""

    def exists(self, rel: str) -> bool:
        """Whether the file exists."""

    def glob(self, pattern: str) -> list[str]:
        """Run-relative paths matching `pattern`, sorted."""


def _require(cond: bool, rel: str, what: str) -> None:
    if not cond:
        raise SearchFileError(rel, what)


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------- subnets as the files hold them
def subnet_key(config: Mapping[str, Any]) -> str:
    """A key equal for equal subnets (SubnetConfig.key); the sorted JSON of a config that is not a natv2 subnet.

    Args:
        config: a subnet's config as a file holds it.

    Returns:
        The canonical key.
    """
    try:
        from natv2.space import SubnetConfig

        return SubnetConfig.from_dict(dict(config)).key
    except Exception:  # noqa: BLE001 - a foreign config still gets a stable key
        return json.dumps(dict(config), sort_keys=True, default=str)


def subnet_name(config: Mapping[str, Any]) -> str:
    """A subnet's file stem (SubnetConfig.file_stem); "subnet" for a config that is not a natv2 subnet.

    Args:
        config: a subnet's config as a file holds it.

    Returns:
        The name.
    """
    try:
        from natv2.space import SubnetConfig

        return SubnetConfig.from_dict(dict(config)).file_stem()
    except Exception:  # noqa: BLE001
        return "subnet"


@dataclass(frozen=True)
class EntryRecord:
    """One archive member as the search wrote it: accuracy in [0, 1], costs by objective name."""

    config: dict[str, Any]
    acc: float
    costs: dict[str, float]
    iteration: int

    @property
    def name(self) -> str:
        """The subnet's file stem (`subnet_name`)."""
        return subnet_name(self.config)


def read_entries(doc: Any, rel: str, objectives: list[str]) -> tuple[list[str], list[EntryRecord]]:
    """The entries of an archive-like file the search wrote (`entries_to_json`), with their objective names.

    Args:
        doc: the parsed file.
        rel: its path in the run directory (named by the error).
        objectives: the names to use when the file records none (older files).

    Returns:
        (objective names, entries).

    Raises:
        SearchFileError: the file has no entries list, or an entry is incomplete or not finite.
    """
    _require(isinstance(doc, dict) and isinstance(doc.get("entries"), list), rel, "has no 'entries' list")
    names = list(doc.get("objectives") or objectives or [])
    _require(bool(names) and names[0] == "err", rel, "has no objectives list starting with 'err'")
    out = []
    for i, e in enumerate(doc["entries"]):
        try:
            objs = e["objectives"]
            acc = float(e["acc"]) if "acc" in e else 1.0 - float(objs["err"])
            costs = {n: float(objs[n]) for n in names[1:]}
            entry = EntryRecord(dict(e["config"]), acc, costs, int(e.get("iteration", 0)))
        except (KeyError, TypeError, ValueError) as err:
            raise SearchFileError(rel, f"entry {i} is incomplete ({type(err).__name__}: {err})") from None
        if not all(math.isfinite(v) for v in (acc, *costs.values())):
            raise SearchFileError(rel, f"entry {i} has a non-finite accuracy or cost")
        out.append(entry)
    return names, out


# ---------------------------------------------------------------------- settings and statistics
@dataclass(frozen=True)
class SearchSettings:
    """The search's settings: the `search` section of the settings file the search writes (`CONFIG`, from
    SearchConfig.to_dict), or the same section of a run's config. A value it does not hold is None (or empty)."""

    policy: str | None = None
    objectives: tuple[str, ...] = ()
    iterations: int | None = None
    candidates_per_iter: int | None = None
    archive_size: int | None = None
    surrogate: str | None = None
    candidate_source: str | None = None
    hv_ref: float | None = None  # the hypervolume's reference point, in every normalised objective
    hv_bounds: dict[str, tuple[float, ...]] = field(default_factory=dict)  # objective -> (ideal, nadir)

    @classmethod
    def from_dict(cls, doc: Any) -> "SearchSettings | None":
        """The settings of a `search` section; None when it is empty or not a mapping.

        Args:
            doc: the section as parsed.

        Returns:
            The settings, or None.
        """
        if not isinstance(doc, Mapping) or not doc:
            return None
        bounds = doc.get("hv_bounds")
        return cls(_text(doc.get("policy")), tuple(str(o) for o in doc.get("objectives") or ()),
                   _count(doc.get("iterations")), _count(doc.get("candidates_per_iter")), _count(doc.get("archive_size")),
                   _text(doc.get("surrogate")), _text(doc.get("candidate_source")), _number(doc.get("hv_ref")),
                   {str(k): tuple(float(x) for x in v) for k, v in (bounds.items() if isinstance(bounds, Mapping) else ())
                    if isinstance(v, (list, tuple)) and all(_number(x) is not None for x in v)})


@dataclass(frozen=True)
class SurrogateQuality:
    """How well the surrogate ranked an iteration's candidates (out of sample); None where not measured."""

    kendall: float | None = None
    spearman: float | None = None
    rmse: float | None = None  # percentage points of top-1 error


@dataclass(frozen=True)
class IterationStats:
    """One iteration's statistics, as the loop writes them; a value the file does not hold is None (or empty)."""

    hv: float | None = None  # hypervolume of the archive, normalised objectives
    n_archive: int | None = None
    n_front: int | None = None
    n_evaluations: int | None = None  # subnets evaluated so far
    best_err: float | None = None  # lowest top-1 error in the archive
    surrogate: SurrogateQuality = SurrogateQuality()
    adapted: bool = False  # whether the supernet was adapted (and the archive re-evaluated)
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "IterationStats":
        """The statistics of a parsed statistics file; values that are not what the loop writes are left out.

        Args:
            doc: the parsed file.

        Returns:
            The statistics.
        """
        s, best, t = (v if isinstance(v, Mapping) else {} for v in (doc.get("surrogate"), doc.get("best"), doc.get("timings")))
        return cls(_number(doc.get("hv")), _count(doc.get("n_archive")), _count(doc.get("n_front")),
                   _count(doc.get("n_evaluations")), _number(best.get("err")),
                   SurrogateQuality(_number(s.get("kendall")), _number(s.get("spearman")), _number(s.get("rmse"))),
                   bool(doc.get("adapted")), {str(k): float(v) for k, v in t.items() if _number(v) is not None})


@dataclass(frozen=True)
class IterationRecord:
    """One search iteration: its archive, the archive's non-dominated front and its statistics."""

    index: int
    archive: list[EntryRecord]
    front: list[EntryRecord]
    stats: IterationStats


def _read_iteration(files: RunReader, index: int, folder: str,
                    objectives: list[str]) -> tuple[list[str], IterationRecord] | None:
    rel_archive, rel_front, rel_stats = (A.rel(folder, name) for name in (A.ITER_ARCHIVE, A.ITER_FRONT, A.ITER_STATS))
    if not files.exists(rel_archive):
        return None  # an iteration being written right now
    objectives, archive = read_entries(files.json(rel_archive), rel_archive, objectives)
    front_doc = files.json(rel_front)
    front = read_entries(front_doc, rel_front, objectives)[1] if front_doc is not None else []
    stats = files.json(rel_stats) or {}
    _require(isinstance(stats, dict), rel_stats, "is not an object")
    return objectives, IterationRecord(index, archive, front, IterationStats.from_dict(stats))


def read_final_test(files: RunReader) -> dict[str, float]:
    """Test top-1 per subnet key (`subnet_key`) from the final test ({} when absent).

    Lenient on purpose: the file only adds a number to what is shown of a subnet, so a damaged file, or an
    entry that is not what the search writes, is left out rather than costing the whole search.

    Args:
        files: the run directory.

    Returns:
        Subnet key -> test top-1 in [0, 1].
    """
    try:
        doc = files.json(FINAL_TEST)
    except Exception:  # noqa: BLE001 - the reader's "does not parse"
        return {}
    out: dict[str, float] = {}
    for e in (doc.get("entries") if isinstance(doc, dict) else None) or []:
        acc = _number(e.get("test_acc")) if isinstance(e, dict) else None
        if acc is not None and isinstance(e.get("config"), dict):
            out[subnet_key(e["config"])] = acc
    return out


# ---------------------------------------------------------------------- the whole search
@dataclass
class SearchRecord:
    """Everything a search left: objectives (err first), settings, space, iterations, final front and picks
    (None when not written yet), and the test top-1 of the final subnets by subnet key."""

    objectives: list[str]
    settings: SearchSettings | None
    space: dict[str, Any]
    iterations: list[IterationRecord]
    final_front: list[EntryRecord] | None
    picks: list[EntryRecord] | None
    test_top1: dict[str, float] = field(default_factory=dict)

    @property
    def costs(self) -> list[str]:
        """The cost objectives (all but the error)."""
        return self.objectives[1:]

    def test_of(self, entry: EntryRecord) -> float | None:
        """The subnet's test top-1 in [0, 1], or None where the search did not measure it."""
        return self.test_top1.get(subnet_key(entry.config)) if self.test_top1 else None

    def is_pick(self, config: Mapping[str, Any]) -> bool:
        """Whether the subnet is one of the high-trade-off picks."""
        if not self.picks:
            return False
        key = subnet_key(config)
        return any(subnet_key(p.config) == key for p in self.picks)

    @classmethod
    def read(cls, files: RunReader) -> "SearchRecord | None":
        """What the search left in a run directory; None when it has written no iteration and no final front.

        Args:
            files: the run directory.

        Returns:
            The record, or None.

        Raises:
            SearchFileError: a file is not what the search writes.
        """
        dirs = [(int(m.group(1)), d) for d in files.glob(A.rel(A.SEARCH_DIR, "iter_*")) if (m := _ITER_DIR.match(d))]
        final = files.exists(FRONT)
        if not dirs and not final:
            return None
        config = files.json(CONFIG) or {}
        _require(isinstance(config, dict), CONFIG, "is not an object")
        objectives = list(config.get("objectives") or [])
        iterations = []
        for index, folder in sorted(dirs):
            read = _read_iteration(files, index, folder, objectives)
            if read is not None:
                objectives = read[0]
                iterations.append(read[1])
        final_front = picks = None
        if final:
            objectives, final_front = read_entries(files.json(FRONT), FRONT, objectives)
        if files.exists(PICKS):
            picks = read_entries(files.json(PICKS), PICKS, objectives)[1]
        return cls(objectives, SearchSettings.from_dict(config.get("search")), dict(config.get("space") or {}),
                   iterations, final_front, picks, read_final_test(files))
