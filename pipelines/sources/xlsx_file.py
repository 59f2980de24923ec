"""Streaming reader for Excel workbooks (.xlsx): the first or a named sheet, with a
header row offset. openpyxl's read-only mode keeps memory flat for large sheets.

A workbook is a zip of XML parts, and a small file can unpack to gigabytes. Before
openpyxl reads anything, the parts are checked against the cooperation's `limits:`
(pipelines.settings.Limits), each named in the message of the workbook it stops:

- `xlsx_max_unpacked_bytes`: all parts together, unpacked (the sizes the zip declares:
  Python's zipfile never unpacks a part beyond its declared size);
- `xlsx_max_shared_strings_bytes`: the shared strings, which openpyxl holds in memory
  (at about six times their size), and `xlsx_max_part_bytes`: each other part openpyxl
  reads whole (styles, the workbook, relationships ...: up to thirty times their size);
  the sheets stream, pictures are not read;
- `xlsx_max_rows`, `xlsx_max_columns`: the sheet read, first by the size its
  `<dimension>` declares, then (a dimension may lie) streamed once with lxml before
  openpyxl reads it: every row's number and every cell's column, and the XML elements
  within one row (ELEMENTS_PER_COLUMN per allowed column: openpyxl builds each row
  whole). Every other sheet is checked as far as openpyxl reads it on opening the
  workbook: up to its dimension, or whole when it has none. After the check the
  dimension is ignored: openpyxl would drop the rows and columns beyond a wrong one.

The sheet is parsed under the XML rules of the other readers (pipelines/sources/ehf.py):
a DOCTYPE rejects the workbook.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError
from zipfile import BadZipFile, ZipFile

import pyarrow as pa
from lxml import etree
from openpyxl import load_workbook
from openpyxl.packaging.relationship import get_dependents, get_rels_path
from openpyxl.reader.workbook import WorkbookParser
from openpyxl.utils.cell import column_index_from_string, range_boundaries
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.xml.constants import (
    ARC_CONTENT_TYPES,
    ARC_CORE,
    ARC_CUSTOM,
    ARC_STYLE,
    ARC_THEME,
    ARC_WORKBOOK,
    SHARED_STRINGS,
    SHEET_MAIN_NS,
    XLSM,
    XLSX,
    XLTM,
    XLTX,
)

from pipelines.settings import Limits
from pipelines.sources import DeliveryRejected, grouped
from pipelines.sources.csv_file import CsvHeader, to_table
from pipelines.sources.ehf import XmlFileProblem, localname, safe_events

ELEMENTS_PER_COLUMN = 100  # XML elements one row may hold, per column limits allow
# the elements openpyxl reads a sheet's rows from (other namespaces are not rows to it)
_ROW, _CELL, _DIMENSION = (f"{{{SHEET_MAIN_NS}}}{name}" for name in ("row", "c", "dimension"))
# openpyxl reads these parts whole whatever their declared type
_READ_WHOLE = {ARC_CONTENT_TYPES, ARC_STYLE, ARC_CORE, ARC_CUSTOM, ARC_THEME}
# what a broken or hostile workbook makes zipfile, lxml or openpyxl raise
_UNREADABLE = (
    BadZipFile,
    InvalidFileException,
    OSError,
    KeyError,
    ValueError,
    EOFError,
    IndexError,
    zlib.error,
    ParseError,
    etree.XMLSyntaxError,
)


class _Refused(Exception):
    """A workbook beyond a limit or unusable; the message follows the file name."""


def _text(value) -> str:
    """A cell as text the loader parses: dates ISO, numbers without float noise."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return str(value)


def _beyond(what: str, value: int, unit: str, limit: str, allowed: int) -> _Refused:
    return _Refused(f"{what} {grouped(value)}{unit}, more than limits.{limit} ({grouped(allowed)})")


# --- the workbook, before openpyxl reads it ------------------------------------------------


def _check_workbook(path: Path, sheet_name: str | None, limits: Limits, until_row: int | None):
    """Every check, before openpyxl opens the workbook: the parts' sizes, then the sheet
    read (up to `until_row`, or whole) and the head of every other sheet."""
    with ZipFile(path) as archive:
        workbook, streamed = _check_parts(archive, limits)
        parser = WorkbookParser(archive, workbook)  # its parts are within the limits now
        parser.parse()
        present = set(archive.namelist())
        # as openpyxl reads them: every related part but chartsheets is a worksheet
        sheets = [
            (sheet.name, relation.target)
            for sheet, relation in parser.find_sheets()
            if relation.target in present and "chartsheet" not in relation.Type
        ]
        if sheet_name and sheet_name not in {name for name, _ in sheets}:
            names = ", ".join(name for name, _ in sheets)
            raise _Refused(f"no sheet {sheet_name!r} (sheets: {names})")
        read = next((part for name, part in sheets if name == sheet_name or not sheet_name), None)
        for name, part in sheets:
            what = f"sheet {name!r}"
            try:
                if part == read:
                    _scan(archive, part, what, limits, until_row)
                elif part in streamed:  # openpyxl reads its head on opening the workbook
                    _scan(archive, part, what, limits, head=True)
            except XmlFileProblem as problem:
                raise XmlFileProblem(f"{what}: {problem}") from None


def _check_parts(archive: ZipFile, limits: Limits) -> tuple[str, set[str]]:
    """Every part's unpacked size against the limits; returns the workbook's part and its
    worksheets' parts (which stream, so they are bounded by `_scan` instead)."""
    sizes = {info.filename: info.file_size for info in archive.infolist()}
    total = sum(sizes.values())
    if total > limits.xlsx_max_unpacked_bytes:
        raise _beyond(
            "the workbook unpacks to",
            total,
            " bytes",
            "xlsx_max_unpacked_bytes",
            limits.xlsx_max_unpacked_bytes,
        )

    def whole(name: str) -> None:
        if sizes.get(name, 0) > limits.xlsx_max_part_bytes:
            raise _beyond(
                f"part {name} unpacks to",
                sizes[name],
                " bytes",
                "xlsx_max_part_bytes",
                limits.xlsx_max_part_bytes,
            )

    whole(ARC_CONTENT_TYPES)
    overrides, defaults = _content_types(archive) if ARC_CONTENT_TYPES in sizes else ({}, {})
    strings = {name for name, kind in overrides.items() if kind == SHARED_STRINGS}
    workbook = next(
        (name for name in sizes if overrides.get(name.lower()) in (XLSX, XLSM, XLTX, XLTM)),
        ARC_WORKBOOK,
    )
    whole(workbook)
    whole(get_rels_path(workbook))
    streamed = _worksheet_parts(archive, workbook, sizes)
    for name, size in sizes.items():
        kind = overrides.get(name.lower()) or defaults.get(name.rsplit(".", 1)[-1].lower(), "")
        if name.lower() in strings:
            if size > limits.xlsx_max_shared_strings_bytes:
                raise _beyond(
                    f"part {name} (the shared strings) unpacks to",
                    size,
                    " bytes",
                    "xlsx_max_shared_strings_bytes",
                    limits.xlsx_max_shared_strings_bytes,
                )
        elif name in streamed and name not in _READ_WHOLE:
            continue
        elif name in _READ_WHOLE or name.endswith((".xml", ".rels")) or kind.endswith("xml"):
            whole(name)  # else a picture or the like, which is not read
    return workbook, {name for name in streamed - _READ_WHOLE if name.lower() not in strings}


def _content_types(archive: ZipFile) -> tuple[dict[str, str], dict[str, str]]:
    """[Content_Types].xml: each part's declared type, and the type of each extension."""
    overrides: dict[str, str] = {}
    defaults: dict[str, str] = {}
    with archive.open(ARC_CONTENT_TYPES) as stream:
        for _event, element in safe_events(stream, ("end",)):
            if localname(element) == "Override":
                name = (element.get("PartName") or "").lstrip("/").lower()
                overrides.setdefault(name, element.get("ContentType") or "")
            elif localname(element) == "Default":
                extension = (element.get("Extension") or "").lower()
                defaults[extension] = element.get("ContentType") or ""
    return overrides, defaults


def _worksheet_parts(archive: ZipFile, workbook: str, sizes: dict[str, int]) -> set[str]:
    """The parts the workbook relates to as worksheets."""
    relations = get_rels_path(workbook)
    if relations not in sizes:
        return set()
    return {
        relation.target
        for relation in get_dependents(archive, relations)
        if relation.TargetMode != "External" and relation.Type.endswith("/worksheet")
    }


def _scan(
    archive: ZipFile,
    part: str,
    what: str,
    limits: Limits,
    until_row: int | None = None,
    head: bool = False,
) -> None:
    """Stream one sheet's XML, holding no more than its head and the row being read: the
    size its `<dimension>` declares, every row's number (`r`, else the previous one + 1, as openpyxl
    counts), every cell's column and the elements within one row, against the limits.
    `head`: stop at the dimension, and `until_row`: after that row, if the sheet has a
    dimension: openpyxl reads a sheet up to its dimension on opening the workbook, and a
    sheet without one whole, so this does too."""
    budget = ELEMENTS_PER_COLUMN * limits.xlsx_max_columns
    max_rows, max_columns = limits.xlsx_max_rows, limits.xlsx_max_columns
    row, column, elements = 0, 0, 0
    current = None  # the row being read
    dimension = False
    with archive.open(part) as stream:
        for _event, element in safe_events(stream, ("start",)):
            tag = element.tag
            if tag == _ROW:
                if dimension and until_row is not None and row >= until_row:
                    return
                row = _row_number(element.get("r"), row)
                if row > max_rows:
                    raise _beyond(f"{what} reaches row", row, "", "xlsx_max_rows", max_rows)
                current, column, elements = element, 0, 0
                previous = element.getprevious()  # the row before: complete, read no more
                if previous is not None:
                    element.getparent().remove(previous)
            elif current is not None and element.getparent() is current:  # a cell to openpyxl
                reference = element.get("r") if tag == _CELL else None
                column = _column_number(reference) if reference else column + 1
                if column > max_columns:
                    raise _beyond(
                        f"{what} row {grouped(row)} reaches column",
                        column,
                        "",
                        "xlsx_max_columns",
                        limits.xlsx_max_columns,
                    )
            elif tag == _DIMENSION and row == 0:
                _check_dimension(element.get("ref"), what, limits)
                dimension = True
                if head:
                    return
            elements += 1  # since the row began: what is held at once, here and in openpyxl
            if elements > budget:
                place = f"in or after row {grouped(row)}" if row else "before its first row"
                raise _Refused(
                    f"{what} holds more than {grouped(budget)} XML elements {place}, more "
                    f"than {ELEMENTS_PER_COLUMN} per column of limits.xlsx_max_columns "
                    f"({grouped(max_columns)})"
                )


def _check_dimension(ref: str | None, what: str, limits: Limits) -> None:
    """The size a sheet declares (`<dimension ref="A1:XFD1048576"/>`): it may lie, so the
    rows and cells are counted too, but a declared size beyond the limits is refused."""
    if not ref:
        return
    _first_column, _first_row, columns, rows = range_boundaries(ref.split(" ")[0])
    what = f"{what} has a dimension ({ref}) of"
    if (rows or 0) > limits.xlsx_max_rows:
        raise _beyond(what, rows, " rows", "xlsx_max_rows", limits.xlsx_max_rows)
    if (columns or 0) > limits.xlsx_max_columns:
        raise _beyond(what, columns, " columns", "xlsx_max_columns", limits.xlsx_max_columns)


def _column_number(reference: str) -> int:
    """The column of a cell reference ('AB12' -> 28), as openpyxl reads it."""
    return column_index_from_string(reference.rstrip("0123456789").replace("$", ""))


def _row_number(text: str | None, previous: int) -> int:
    if text is None:
        return previous + 1
    if text.isdigit():
        return int(text)
    number = float(text)  # openpyxl accepts '7.0' too
    if not number.is_integer():
        raise ValueError(f"row number {text!r} is not a whole number")
    return int(number)


# --- reading -------------------------------------------------------------------------------


def _rows(path: Path, profile, limits: Limits, until_row: int | None = None):
    """The workbook and its sheet's rows from the header row on, once every check passed."""
    sheet_name = profile.csv.sheet
    workbook = None
    try:
        _check_workbook(path, sheet_name, limits, until_row)
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
        sheet.reset_dimensions()  # checked; a wrong one would drop rows and columns
    except (_Refused, XmlFileProblem, *_UNREADABLE) as problem:
        if workbook is not None:
            workbook.close()
        if isinstance(problem, _Refused):
            raise DeliveryRejected(f"{path.name}: {problem}") from None
        raise DeliveryRejected(f"{path.name}: not a readable .xlsx workbook ({problem})") from None
    return workbook, sheet.iter_rows(min_row=profile.csv.header_row, values_only=True)


def read_header(path: Path, profile, *, limits: Limits | None = None) -> CsvHeader:
    limits = limits or Limits()
    workbook, rows = _rows(path, profile, limits, until_row=profile.csv.header_row)
    try:
        header = next(rows, None)
    except _UNREADABLE as error:
        raise DeliveryRejected(f"{path.name}: not a readable .xlsx workbook ({error})") from None
    finally:
        workbook.close()
    if not header or not any(cell is not None and str(cell).strip() for cell in header):
        raise DeliveryRejected(f"{path.name}: no header in row {profile.csv.header_row}")
    columns = [_text(cell).strip() for cell in header]
    while columns and not columns[-1]:
        columns.pop()
    return CsvHeader(columns)


def iter_batches(
    path: Path,
    profile,
    header: CsvHeader,
    batch_rows: int = 100_000,
    *,
    limits: Limits | None = None,
) -> Iterator[pa.Table]:
    width = len(header.columns)
    workbook, rows = _rows(path, profile, limits or Limits())
    try:
        next(rows, None)  # the header
        batch: list[list[str]] = []
        errors: list[tuple[int, str, str]] = []
        spans: list[tuple[int, int]] = []  # each record's sheet row (_source_line)
        row_number = 0
        sheet_row = profile.csv.header_row
        for values in rows:
            sheet_row += 1
            cells = [_text(v) for v in values[:width]]
            beyond = [_text(v) for v in values[width:] if v is not None]
            if not any(cells) and not beyond:
                continue  # an empty row is no record
            row_number += 1
            if beyond:
                errors.append(
                    (
                        row_number,
                        f"the row has values beyond the header's {width} columns",
                        " | ".join(cells + beyond),
                    )
                )
            batch.append(cells + [""] * (width - len(cells)))
            spans.append((sheet_row, sheet_row))
            if len(batch) >= batch_rows:
                yield to_table(batch, row_number, width, errors, spans)
                batch, errors, spans = [], [], []
        if batch:
            yield to_table(batch, row_number, width, errors, spans)
    except _UNREADABLE as error:
        raise DeliveryRejected(f"{path.name}: not a readable .xlsx workbook ({error})") from None
    finally:
        workbook.close()
