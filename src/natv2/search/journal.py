"""The search journal: an append-only JSONL of every evaluation and every decision, fsynced per write.

Resume works by replaying the loop: each step first looks its result up here (evaluations by
(step, subnet), proposals and adaptations by iteration) and only computes what is missing. Random
numbers come from (seed, iteration, step), never from pickled state, so replay and an uninterrupted
run take the same path. A line torn by a crash (SIGKILL mid-write) is cut off on open.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from natv2.errors import RunDirError
from natv2.space import SubnetConfig


class Journal:
    """In-memory index of `journal.jsonl`; `append` writes (when `writable`) and indexes records."""

    def __init__(self, path: str | os.PathLike[str] | None, writable: bool = True) -> None:
        self.path = Path(path) if path is not None else None
        self.writable = writable and self.path is not None
        self.evals: dict[tuple[str, str], dict[str, Any]] = {}
        self.events: dict[tuple[str, int], dict[str, Any]] = {}
        if self.path is not None and self.path.exists():
            if self.writable:
                _cut_torn_tail(self.path)
            self._load()

    def _load(self) -> None:
        assert self.path is not None
        lines = self.path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines[:-1], start=1):  # the text after the last newline is torn
            if not line.strip():
                continue
            try:
                self._index(json.loads(line))
            except (ValueError, KeyError, TypeError):
                raise RunDirError(
                    f"{self.path} line {number} is not a valid journal record: {line[:120]!r}",
                    "the journal was edited or damaged; restore it or start a new run_dir",
                ) from None

    def _index(self, rec: dict[str, Any]) -> None:
        if rec["type"] == "eval":
            self.evals[(rec["step"], rec["key"])] = rec
        else:
            self.events[(rec["type"], int(rec["iteration"]))] = rec

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        """Index `records` and, if writable, append them as lines with one flush + fsync."""
        records = list(records)
        if not records:
            return
        if self.writable:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for rec in records:
            self._index(rec)

    # ----------------------------------------------------------------- look-ups
    def evaluation(self, step: str, cfg: SubnetConfig) -> dict[str, Any] | None:
        return self.evals.get((step, cfg.key))

    def event(self, kind: str, iteration: int) -> dict[str, Any] | None:
        return self.events.get((kind, iteration))


def _cut_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    with open(path, "r+b") as fh:
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
