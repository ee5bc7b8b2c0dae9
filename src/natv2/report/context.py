"""What every report section receives: the run's files, where to put figures, links relative to the page,
and the stage data, loaded once and shared (a damaged file fails every section that needs it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

from natv2.report.files import RunFiles
from natv2.report.html import Html, tag
from natv2.report.load import (
    ModelsData,
    RunInfo,
    TrainingData,
    load_models,
    load_run_info,
    load_search,
    load_training,
)
from natv2.search.record import SearchRecord

FIGURES = "figures"


@dataclass
class SectionResult:
    """A rendered section: its body and its (id, title) subsections for the table of contents."""

    body: Html
    subsections: list[tuple[str, str]] = field(default_factory=list)
    skipped: bool = False  # a damaged input: the body is the note saying so


@dataclass
class ReportContext:
    files: RunFiles
    out_dir: Path
    publish: bool = False  # a copy to publish alone: no links into the run directory
    figures: list[Path] = field(default_factory=list)
    _cache: dict[str, tuple[bool, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ stage data (cached, errors too)
    def _load(self, key: str, loader: Callable[[RunFiles], Any]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = (True, loader(self.files))
            except Exception as err:  # noqa: BLE001 - re-raised to every section that asks
                self._cache[key] = (False, err)
        ok, value = self._cache[key]
        if not ok:
            raise value
        return value

    def run_info(self) -> RunInfo:
        return self._load("run", load_run_info)

    def training(self) -> TrainingData | None:
        return self._load("training", load_training)

    def search(self) -> SearchRecord | None:
        return self._load("search", load_search)

    def models(self) -> ModelsData | None:
        return self._load("models", load_models)

    def models_if_readable(self) -> ModelsData | None:
        """The models data, or None when it is absent or damaged (its own section reports the damage)."""
        try:
            return self.models()
        except Exception:  # noqa: BLE001
            return None

    def search_if_readable(self) -> SearchRecord | None:
        """The search data, or None when it is absent or damaged (its own section reports the damage)."""
        try:
            return self.search()
        except Exception:  # noqa: BLE001
            return None

    def config(self) -> dict[str, Any]:
        """config.yaml as plain data ({} when absent or damaged; the summary reports the damage)."""
        try:
            return self.run_info().config or {}
        except Exception:  # noqa: BLE001
            return {}

    # ------------------------------------------------------------------ output
    @property
    def figures_dir(self) -> Path:
        return self.out_dir / FIGURES

    def figure_path(self, name: str) -> Path:
        path = self.figures_dir / f"{name}.png"
        self.figures.append(path)
        return path

    def src(self, path: Path) -> str:
        """A page-relative URL for a file the report wrote."""
        return quote(Path(os.path.relpath(path, self.out_dir)).as_posix())

    def run_link(self, rel: str, text: str) -> Html:
        """A link from the page to a file of the run directory, relative (works offline and when moved along);
        for a published copy, which travels without the run directory, the file's name alone."""
        if self.publish:
            return tag("code", text, title=rel)
        href = quote(Path(os.path.relpath(self.files.root / rel, self.out_dir)).as_posix())
        return tag("a", text, href=href)

    def links(self, items: Sequence[tuple[str, str]]) -> Html:
        return tag("span", [self.run_link(rel, label) for label, rel in items], class_="links")
