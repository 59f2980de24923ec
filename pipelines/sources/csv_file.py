"""Streaming reader for delimited text exports (CSV dialects of Nordic ERPs).

Yields Arrow tables of at most `batch_rows` records, every value as text, with the
record number in the file (`_source_row`, 1 = first data record after the header).
A record with the wrong number of fields is not dropped: it comes through with
`_parse_error` set, so that the loader can put it in the rejected rows.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipelines.profiles import CsvDialect
from pipelines.sources import DeliveryRejected

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class CsvHeader:
    columns: list[str]

    def index(self, column: str) -> int:
        return self.columns.index(column)


def _python_encoding(encoding: str) -> str:
    """UTF-8 files from Windows tools often start with a byte-order mark: accept it."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _records(path: Path, dialect: CsvDialect):
    handle = open(path, encoding=_python_encoding(dialect.encoding), newline="")  # noqa: SIM115
    reader = csv.reader(handle, delimiter=dialect.delimiter, quotechar=dialect.quotechar)
    return handle, reader


def read_header(path: Path, profile) -> CsvHeader:
    dialect: CsvDialect = profile.csv
    handle, reader = _records(path, dialect)
    try:
        for _ in range(dialect.header_row - 1):
            next(reader, None)
        header = next(reader, None)
    except UnicodeDecodeError as error:
        raise DeliveryRejected(_decode_message(path, dialect, error)) from None
    except csv.Error as error:
        raise DeliveryRejected(f"{path.name}: the header cannot be parsed: {error}") from None
    finally:
        handle.close()
    if not header or not any(cell.strip() for cell in header):
        raise DeliveryRejected(f"{path.name}: the file is empty (no header row)")
    return CsvHeader([cell.strip() for cell in header])


def _decode_message(path: Path, dialect: CsvDialect, error: UnicodeDecodeError) -> str:
    return (
        f"{path.name}: cannot be read as {dialect.encoding} "
        f"(byte {error.object[error.start : error.start + 1]!r} is not valid there); "
        "check the profile's csv.encoding"
    )


def iter_batches(
    path: Path, profile, header: CsvHeader, batch_rows: int = 100_000
) -> Iterator[pa.Table]:
    """Every data record after the header, in order, as text columns c0..cN."""
    dialect: CsvDialect = profile.csv
    width = len(header.columns)
    handle, reader = _records(path, dialect)
    try:
        for _ in range(dialect.header_row):
            next(reader, None)
        row_number = 0
        rows: list[list[str]] = []
        errors: list[tuple[int, str, str]] = []
        for record in reader:
            if not record:  # a blank line is no record
                continue
            row_number += 1
            if len(record) != width:
                errors.append(
                    (row_number, _width_error(len(record), width), dialect.delimiter.join(record))
                )
                record = [""] * width
            rows.append(record)
            if len(rows) >= batch_rows:
                yield to_table(rows, row_number, width, errors)
                rows, errors = [], []
        if rows:
            yield to_table(rows, row_number, width, errors)
    except UnicodeDecodeError as error:
        raise DeliveryRejected(_decode_message(path, dialect, error)) from None
    except csv.Error as error:
        raise DeliveryRejected(
            f"{path.name}: cannot be parsed near record {reader.line_num}: {error}"
        ) from None
    finally:
        handle.close()


def _width_error(found: int, expected: int) -> str:
    return f"the row has {found} fields, the header has {expected}"


def to_table(
    rows: list[list[str]], last_row: int, width: int, errors: list[tuple[int, str, str]]
) -> pa.Table:
    first_row = last_row - len(rows) + 1
    columns = list(zip(*rows, strict=True))
    arrays = {f"c{i}": pa.array(columns[i], type=pa.string()) for i in range(width)}
    arrays["_source_row"] = pa.array(range(first_row, last_row + 1), type=pa.int64())
    parse_error = [None] * len(rows)
    raw_text = [None] * len(rows)
    for row_number, message, text in errors:
        parse_error[row_number - first_row] = message
        raw_text[row_number - first_row] = text
    arrays["_parse_error"] = pa.array(parse_error, type=pa.string())
    arrays["_raw_text"] = pa.array(raw_text, type=pa.string())
    return pa.table(arrays)
