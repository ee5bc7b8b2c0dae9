"""The report's sections, in page order. To add one, write a class with `id`, `title`, `missing` (why a run
may lack it) and `build(ctx) -> SectionResult | None` (None: no data here), and list it in `SECTIONS`."""

from __future__ import annotations

from typing import Protocol

from natv2.report.context import ReportContext, SectionResult
from natv2.report.sections.models import ModelsSection
from natv2.report.sections.search import SearchSection
from natv2.report.sections.summary import SummarySection
from natv2.report.sections.training import TrainingSection


class Section(Protocol):
    id: str
    title: str
    missing: str

    def build(self, ctx: ReportContext) -> SectionResult | None: ...


SECTIONS: tuple[Section, ...] = (SummarySection(), TrainingSection(), SearchSection(), ModelsSection())

__all__ = ["SECTIONS", "Section"]
