"""Streaming reader for Excel workbooks (.xlsx): the first or a named sheet, with a
header row offset. openpyxl's read-only mode keeps memory flat for large sheets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zipfile import BadZipFile

import pyarrow as pa
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from pipelines.sources import DeliveryRejected
from pipelines.sources.csv_file import CsvHeader, to_table


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


def _rows(path: Path, profile):
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, InvalidFileException, OSError, KeyError) as error:
        raise DeliveryRejected(f"{path.name}: not a readable .xlsx workbook ({error})") from None
    sheet_name = profile.csv.sheet
    if sheet_name and sheet_name not in workbook.sheetnames:
        workbook.close()
        raise DeliveryRejected(
            f"{path.name}: no sheet {sheet_name!r} (sheets: {', '.join(workbook.sheetnames)})"
        )
    sheet = workbook[sheet_name] if sheet_name else workbook.worksheets[0]
    return workbook, sheet.iter_rows(min_row=profile.csv.header_row, values_only=True)


def read_header(path: Path, profile) -> CsvHeader:
    workbook, rows = _rows(path, profile)
    try:
        header = next(rows, None)
    finally:
        workbook.close()
    if not header or not any(cell is not None and str(cell).strip() for cell in header):
        raise DeliveryRejected(f"{path.name}: no header in row {profile.csv.header_row}")
    columns = [_text(cell).strip() for cell in header]
    while columns and not columns[-1]:
        columns.pop()
    return CsvHeader(columns)


def iter_batches(
    path: Path, profile, header: CsvHeader, batch_rows: int = 100_000
) -> Iterator[pa.Table]:
    width = len(header.columns)
    workbook, rows = _rows(path, profile)
    try:
        next(rows, None)  # the header
        batch: list[list[str]] = []
        errors: list[tuple[int, str, str]] = []
        row_number = 0
        for values in rows:
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
            if len(batch) >= batch_rows:
                yield to_table(batch, row_number, width, errors)
                batch, errors = [], []
        if batch:
            yield to_table(batch, row_number, width, errors)
    finally:
        workbook.close()
