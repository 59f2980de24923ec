"""The dashboards' downloads, written by the same code as `samkjop export`
(pipelines.export), as CSV or Excel bytes for st.download_button: a whole export table
with the page's member and year, or a council view (pipelines.export.COUNCIL_VIEWS: a
council page's table of payees, every row of it with the page's filters, private persons
as the page shows them).

The one place the dashboards call the export code.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from pipelines import export

FORMATS = ("csv", "xlsx")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def is_view(name: str) -> bool:
    """Whether `name` is a council view (else an export table)."""
    return name in export.COUNCIL_VIEWS


def file_name(
    table: str, fmt: str, municipality: str | None, year: int | None, **filters: Any
) -> str:
    """The download's file name: table (or view), member, year and the view's other
    filters it holds, e.g. per_capita_2024.csv, member_suppliers_5035_2024_OFFICE.xlsx."""
    if is_view(table):
        return export.view_file_name(table, fmt, view_filters(table, municipality, year, filters))
    member = None if municipality in (None, "ALL") else municipality
    parts = [table] + ([member] if member else []) + ([str(year)] if year is not None else [])
    return "_".join(parts) + f".{fmt}"


def view_filters(
    view: str, municipality: str | None, year: int | None, filters: dict[str, Any]
) -> dict[str, Any]:
    """The filters of council view `view`, in its order, from a page's member, year and
    other filters (category, search, supplier)."""
    given = {"municipality": municipality, "year": year, **filters}
    names = export.COUNCIL_VIEWS[view].filters
    unknown = sorted(name for name, value in given.items() if name not in names and value)
    if unknown:
        raise ValueError(f"council view {view!r} has no filter {', '.join(unknown)}")
    return {name: given.get(name) for name in names}


def download_bytes(
    snapshot: str | Path,
    name: str,
    fmt: str,
    municipality: str | None = None,
    year: int | None = None,
    language: str = "en",
    **filters: Any,
) -> tuple[str, bytes]:
    """(file name, content) of export table or council view `name` in `fmt`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown download format {fmt!r}; formats: {', '.join(FORMATS)}")
    if is_view(name):
        chosen = view_filters(name, municipality, year, filters)
        return export.export_view_bytes(Path(snapshot), name, fmt, chosen, language)
    if filters:
        raise ValueError(f"export table {name!r} has no filter {', '.join(sorted(filters))}")
    return table_bytes(snapshot, name, fmt, municipality, year, language)


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
