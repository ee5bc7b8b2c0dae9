"""What a search left in a run directory, read with the search's own reader (`entries_from_json`):
the file the finetune stage picks its subnets from. Paths and file names come from natv2.io.artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natv2.errors import RunDirError
from natv2.io.artifacts import FINAL_ARCHIVE, HIGH_TRADEOFF, ITER_ARCHIVE, NON_DOMINATED, Layout, read_json_checked, search_files
from natv2.search.archive import entries_from_json


@dataclass(frozen=True)
class SearchOutput:
    """What the search left: its objective names and entries (natv2.search.archive.ArchiveEntry)."""

    path: Path
    objectives: tuple[str, ...]
    entries: list[Any]

    # Which file holds each selection, written by the search loop (the final archive by the search stage).
    SELECTIONS = {"front": NON_DOMINATED, "picks": HIGH_TRADEOFF, "archive": FINAL_ARCHIVE}

    @classmethod
    def read(cls, path: str | Path) -> "SearchOutput":
        """Read a file the search wrote (`entries_to_json`), with the search's own reader."""
        p = Path(path)
        doc = read_json_checked(p)
        try:
            names, entries = entries_from_json(doc)
        except (KeyError, TypeError, ValueError) as err:
            raise RunDirError(f"{p} is not a search result ({type(err).__name__}: {err})",
                              "re-run natv2 search, or point finetune.archive at a file the search wrote") from None
        return cls(p, tuple(names), entries)

    @classmethod
    def find(cls, root: str | Path, select: str) -> "SearchOutput | None":
        """The search's file for `select` in run `root`, or None when the search has not written it."""
        files = search_files(Layout(root).search)
        name = cls.SELECTIONS.get(select)
        path = files.root / name if name else None
        return cls.read(path) if path is not None and path.is_file() else None

    @classmethod
    def latest_archive(cls, root: str | Path) -> "SearchOutput | None":
        """The final archive, else the archive of the latest iteration (a search still running)."""
        lay = Layout(root)
        files = search_files(lay.search)
        if files.final_archive.is_file():
            return cls.read(files.final_archive)
        its = [p / ITER_ARCHIVE for _, p in lay.iterations() if (p / ITER_ARCHIVE).is_file()]
        return cls.read(its[-1]) if its else None
