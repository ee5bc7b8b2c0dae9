"""Reading a run directory for the report: tolerant of missing stages, explicit about damaged files.

A missing file means "this stage has not run here" (the section is left out and the page says so).
A file that exists but cannot be read raises `DamagedFile`, which names the file; the report then
skips that section with a visible note instead of failing as a whole.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natv2.errors import RunDirError
from natv2.io import artifacts as A
from natv2.io.artifacts import CONFIG_FILE, EVENTS_FILE, RUN_MARKERS
from natv2.search.record import MARKERS as SEARCH_MARKERS

# Stage outputs that make a folder reportable even without the markers (e.g. `run_search(run_dir=...)`).
STAGE_MARKERS = (A.REL_TRAIN_METRICS, *SEARCH_MARKERS, A.REL_FINETUNE_SUMMARY, A.REL_EXPORT_SUMMARY)


class DamagedFile(Exception):
    """A run file exists but does not parse; `rel` is its path inside the run directory."""

    def __init__(self, rel: str, reason: str) -> None:
        super().__init__(f"{rel}: {reason}")
        self.rel = rel
        self.reason = reason


@dataclass(frozen=True)
class RunFiles:
    """Read-only access to one run directory's files, by path relative to it."""

    root: Path

    @classmethod
    def open(cls, path: str | Path) -> "RunFiles":
        root = Path(path)
        if not root.exists():
            raise RunDirError(f"run directory '{root}' does not exist",
                              "pass the folder a run wrote, e.g. natv2 report runs/quickstart-20250101-120000")
        if not root.is_dir():
            raise RunDirError(f"'{root}' is a file, not a run directory", f"pass the run's folder (it holds {CONFIG_FILE})")
        if not any((root / m).exists() for m in RUN_MARKERS + STAGE_MARKERS):
            raise RunDirError(f"'{root}' is not a natv2 run directory (no {CONFIG_FILE}, {EVENTS_FILE} or stage outputs)",
                              f"pass the folder a run wrote: the one holding {CONFIG_FILE} and {EVENTS_FILE} "
                              "(natv2 run / natv2 train-supernet --run-dir DIR)")
        return cls(root)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def json(self, rel: str) -> Any | None:
        """The parsed file, None when it does not exist; DamagedFile when it does not parse."""
        p = self.root / rel
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as err:
            raise DamagedFile(rel, f"not valid JSON ({err})") from None
        except OSError as err:
            raise DamagedFile(rel, f"cannot be read ({err.strerror or err})") from None

    def jsonl(self, rel: str) -> list[dict[str, Any]] | None:
        """One object per line; a torn LAST line (a crash mid-write, or a live writer) is ignored."""
        p = self.root / rel
        if not p.is_file():
            return None
        try:
            lines = p.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as err:
            raise DamagedFile(rel, f"cannot be read ({err})") from None
        complete = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
        out = []
        for i, (number, line) in enumerate(complete):
            try:
                obj = json.loads(line)
            except ValueError:
                if i == len(complete) - 1:
                    break
                raise DamagedFile(rel, f"line {number} is not valid JSON") from None
            if not isinstance(obj, dict):
                raise DamagedFile(rel, f"line {number} is not a JSON object")
            out.append(obj)
        return out

    def yaml(self, rel: str) -> Any | None:
        import yaml

        p = self.root / rel
        if not p.is_file():
            return None
        try:
            return yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DamagedFile(rel, f"not valid YAML ({reason})") from None

    def glob(self, pattern: str) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.glob(pattern))


def parse_ts(value: Any) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
