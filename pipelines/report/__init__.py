"""`samkjop report`: the annual report for the economy council (issue 12 point 5).

    samkjop report --config cooperation.yml --year 2025 [--language nb|da|en]
        --format pdf|html --out DIR

Reads the published snapshot only (pipelines/report/data.py), renders one self-contained
HTML document in the reader's language and number formats (render.py, templates/, the
catalogues in dashboards/locales/<language>/report.yaml and metrics.yaml, charts as SVG by
charts.py), and for a PDF prints it with headless Chromium (pdf.py).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("pdf", "html")

__all__ = ["FORMATS", "Report", "ReportError", "build_report", "report_file_name"]


class ReportError(Exception):
    """The report cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Report:
    path: Path
    year: int
    language: str
    is_complete_year: bool


def report_file_name(year: int, language: str, fmt: str) -> str:
    return f"annual-report-{year}-{language}.{fmt}"


def build_report(
    snapshot: Path,
    year: int,
    language: str,
    fmt: str,
    out_dir: Path,
    *,
    chromium: str | None = None,
) -> Report:
    """Write the annual report of `year` from `snapshot` into `out_dir`; ReportError (with
    what to do) when the snapshot is missing, has no data for the year, or Chromium fails."""
    from dashboards.i18n import check_language
    from pipelines.report.data import load_report_data
    from pipelines.report.pdf import PdfError, html_to_pdf
    from pipelines.report.render import footer_template, render_html

    if fmt not in FORMATS:
        raise ReportError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    try:
        check_language(language)
    except ValueError as error:
        raise ReportError(str(error)) from None
    data = load_report_data(snapshot, year)
    html = render_html(data, language)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / report_file_name(year, language, fmt)
    if fmt == "html":
        target.write_text(html, encoding="utf-8")
    else:
        with tempfile.TemporaryDirectory(prefix="samkjop-report-") as scratch:
            page = Path(scratch) / "report.html"
            page.write_text(html, encoding="utf-8")
            try:
                html_to_pdf(
                    page, target, footer_html=footer_template(data, language), chromium=chromium
                )
            except PdfError as error:
                raise ReportError(str(error)) from error
    return Report(target, year, language, data.is_complete_year)
