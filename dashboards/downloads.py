"""The dashboards' downloads: a whole table, with the page's filters, written by the same
code as `samkjop export` (pipelines.export), as CSV or Excel bytes for st.download_button.

The one place the dashboards call the export code. Until pipelines.export offers
`export_bytes(snapshot, table, fmt, municipality=None, year=None, language=...)`, this
writes the file with `export_table` into a temporary folder and returns its bytes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pipelines import export

FORMATS = ("csv", "xlsx")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def file_name(table: str, fmt: str, municipality: str | None, year: int | None) -> str:
    """The download's file name: table, member and year it holds, e.g. per_capita_2024.csv."""
    member = None if municipality in (None, "ALL") else municipality
    parts = [table] + ([member] if member else []) + ([str(year)] if year is not None else [])
    return "_".join(parts) + f".{fmt}"


def table_bytes(
    snapshot: str | Path,
    table: str,
    fmt: str,
    municipality: str | None = None,
    year: int | None = None,
    language: str = "en",
) -> tuple[str, bytes]:
    """(file name, content) of export table `table` in `fmt` (csv or xlsx), every row of it
    for `municipality` (None or 'ALL': every member) and `year` (None: every year)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown download format {fmt!r}; formats: {', '.join(FORMATS)}")
    member = None if municipality in (None, "ALL") else municipality
    exporter = getattr(export, "export_bytes", None)
    if exporter is not None:
        return exporter(
            Path(snapshot), table, fmt, municipality=member, year=year, language=language
        )
    with tempfile.TemporaryDirectory(prefix="samkjop-download-") as folder:
        path, _rows = export.export_table(
            Path(snapshot), table, fmt, Path(folder), municipality=member, year=year
        )
        return file_name(table, fmt, member, year), path.read_bytes()
