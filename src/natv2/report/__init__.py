"""natv2.report: a self-contained HTML report of a run directory, built from its files alone.

    from natv2.report import build_report
    index_html = build_report("runs/quickstart-20250101-120000")   # -> <run>/report/index.html

Works offline (inline CSS, relative PNGs, no scripts), escapes every string it embeds, shows only
the sections whose data exists, and skips (with a visible note) any section whose file is damaged.
"""

from natv2.report.build import Report, build_report, generate_report

__all__ = ["Report", "build_report", "generate_report"]
