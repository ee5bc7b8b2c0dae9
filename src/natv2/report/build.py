"""`build_report(run_dir)`: the run directory's files -> report/index.html + report/figures/*.png.

Each section is built on its own: a stage that has not run leaves its section out (listed as absent),
and a damaged file skips only the sections that need it, with a visible note naming the file. The
page is written last and atomically, so an interrupted build leaves the previous report intact.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from natv2.errors import RunDirError
from natv2.io.artifacts import REPORT_INDEX, Layout
from natv2.io.atomic import atomic_write_text
from natv2.report.context import ReportContext, SectionResult
from natv2.report.files import DamagedFile, RunFiles
from natv2.report.html import Html, join, note, tag
from natv2.report.sections import SECTIONS, Section
from natv2.report.style import CSS

INDEX = REPORT_INDEX


@dataclass
class Report:
    """What was built: the page, its figures, sections left out (no data) and files that could not be read."""

    index: Path
    figures: list[Path]
    sections: list[str]
    absent: list[tuple[str, str]] = field(default_factory=list)  # (section title, why)
    problems: list[str] = field(default_factory=list)  # "file: reason -> section skipped"


def build_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the HTML report of `run_dir` (default folder: <run_dir>/report) and return index.html's path."""
    return generate_report(run_dir, out).index


def generate_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                    sections: Sequence[Section] = SECTIONS, *, publish: bool = False) -> Report:
    """The report of `run_dir`; with `publish`, a copy that stands alone: no links into the run directory,
    and no path of this machine (the run's folder shows as its name, the home folder as ~)."""
    files = RunFiles.open(run_dir)
    out_dir = Path(out) if out is not None else Layout(files.root).report
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(f"cannot create the report folder '{out_dir}': {err.strerror or err}",
                          "choose a writable folder with --out") from None
    ctx = ReportContext(files, out_dir, publish=publish)
    built: list[tuple[Section, SectionResult]] = []
    absent: list[tuple[str, str]] = []
    problems: list[str] = []
    for section in sections:
        try:
            result = section.build(ctx)
        except DamagedFile as err:
            problems.append(f"{err.rel}: {err.reason} (section '{section.title}' skipped)")
            built.append((section, SectionResult(note(
                f"This section is skipped: {err.rel} could not be read ({err.reason}). Fix or delete the file "
                "(re-running its stage rewrites it), then run natv2 report again.", "warn"), skipped=True)))
            continue
        if result is None:
            absent.append((section.title, section.missing))
        else:
            built.append((section, result))
    page = render_page(files, built, absent, problems)
    if publish:
        page = _without_machine_paths(page, files.root)
    _remove_stale_figures(ctx)
    index = atomic_write_text(out_dir / INDEX, page)
    return Report(index, list(ctx.figures), [s.id for s, r in built if not r.skipped], absent, problems)


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.-]+){2,}")  # not the path part of a URL (preceded by //)


def _without_machine_paths(page: str, root: Path) -> str:
    """`page` with the run directory's absolute path shown as its name, the home folder as ~, and any other
    absolute path (a transfer source, a data folder) cut to its last two parts after an ellipsis."""
    from html import escape

    run = root.resolve()
    for path, shown in ((run, run.name), (Path.home(), "~")):
        for text in {str(path), escape(str(path))}:
            if len(text) > 1:
                page = page.replace(text, shown)
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + "/".join(m.group(0).split("/")[-2:]), page)


def _remove_stale_figures(ctx: ReportContext) -> None:
    """Drop figures of an earlier build that this one did not draw (a section that has since gone)."""
    keep = {p.resolve() for p in ctx.figures}
    if ctx.figures_dir.is_dir():
        for p in ctx.figures_dir.glob("*.png"):
            if p.resolve() not in keep:
                p.unlink(missing_ok=True)


def _toc(built: list[tuple[Section, SectionResult]], absent: list[tuple[str, str]]) -> Html:
    items = []
    for section, result in built:
        if result.skipped:
            items.append(tag("li", tag("a", section.title, href=f"#{section.id}"), " ", tag("span", "(skipped)"),
                             class_="absent"))
            continue
        subs = tag("ol", [tag("li", tag("a", title, href=f"#{sid}")) for sid, title in result.subsections]) \
            if result.subsections else None
        items.append(tag("li", tag("a", section.title, href=f"#{section.id}"), subs))
    for title, _ in absent:
        items.append(tag("li", title, " ", tag("span", "(not in this run)"), class_="absent"))
    return tag("nav", tag("div", "natv2 report", class_="brand"), tag("ol", items), class_="toc")


def render_page(files: RunFiles, built: list[tuple[Section, SectionResult]], absent: list[tuple[str, str]],
                problems: list[str]) -> str:
    from natv2 import __version__

    name = files.root.resolve().name
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    head_notes = []
    if problems:
        head_notes.append(tag("div", tag("strong", f"{len(problems)} file{'s' if len(problems) != 1 else ''} could not "
                                                   "be read; the sections that need them are skipped:"),
                              tag("ul", [tag("li", tag("code", p)) for p in problems], class_="problems"),
                              class_="note warn problems-box"))
    if absent:
        head_notes.append(note(join(["Not in this run: ", "; ".join(f"{t} ({why})" for t, why in absent), "."]), "info"))
    body_sections = [tag("section", tag("h2", s.title), r.body, id=s.id) for s, r in built]
    main = tag("main",
               tag("header", tag("h1", f"Run report: {name}"),
                   tag("p", f"Built {now} by natv2 {__version__} from the files of {files.root.resolve()}", class_="meta"),
                   class_="top"),
               head_notes, body_sections,
               tag("footer", "Generated offline from the run directory alone; figures are in figures/ beside this page."))
    return ("<!DOCTYPE html>\n" + tag(
        "html",
        tag("head", Html('<meta charset="utf-8">'),
            Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            tag("title", f"natv2 report: {name}"), tag("style", Html(CSS))),
        tag("body", tag("div", _toc(built, absent), main, class_="layout")),
        lang="en") + "\n")
