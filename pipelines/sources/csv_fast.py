"""The fast path of the CSV stage: DuckDB's own CSV reader, used only where it reads exactly
what the exact reader (`csv_file.iter_batches`) reads.

The exact reader accounts for every physical line (blank lines, quoted line breaks, broken
quotes, short rows) at Python speed. Most deliveries need none of that: each physical line
after the header is exactly one record of the header's width. For such a file the record
number is the line number minus the header's lines, and DuckDB's reader gives the same
values some twenty times faster. `stage_csv` decides cheaply and conservatively whether a
file is such a file, and declines (returns None; the caller drops the stage and reads the
file with the exact reader) whenever anything is unusual:

- a dialect DuckDB cannot read the same way: an encoding other than UTF-8 (with or without
  a byte-order mark), Latin-1, Windows-1252 or ASCII; a delimiter or quote character that
  is not a plain ASCII character; a header that spans several lines, or lines before the
  header (`header_row` > 1) that hold a quote character;
- a line break other than LF throughout or CRLF throughout (a lone CR, or LF and CRLF
  mixed): the exact reader counts every CR, LF and CRLF as a line break;
- a quote character next to a space at a field's edge (`a, "b"` or `"b" ,c`): DuckDB trims
  such spaces, the exact reader keeps them;
- a path DuckDB would read as a glob pattern (`*?[]{}`);
- any error of DuckDB's reader: a quote that is not closed, text after a closing quote, a
  byte the encoding cannot read (DuckDB checks UTF-8 as strictly as Python does; its
  Latin-1 refuses the bytes 0x80-0x9F, which is also how Windows-1252, whose only
  difference from Latin-1 is those bytes, is read right or not at all), a row with more
  fields than the header;
- a row with fewer fields than the header or one more (DuckDB tolerates a trailing
  delimiter; the exact reader rejects the row): the reader is given one column more than
  the header, pads short rows with NULL, and empty fields are '' (no text means NULL);
- fewer records than physical lines after the header (a blank line, which DuckDB skips, or
  a quoted line break, which makes one record of two lines), or a first record that is not
  the first line as the exact reader reads it.

The read runs on a cursor of its own (a connection with its own transaction), so that an
error of DuckDB's reader never aborts the caller's transaction; its rows come over as Arrow
batches in the file's order (DuckDB preserves insertion order; `row_number() OVER ()`
numbers them in that order, which tests/test_csv_fast.py checks against the exact reader on
a file of several megabytes).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from pipelines.profiles import CsvDialect
from pipelines.sources import DeliveryRejected
from pipelines.sources.csv_file import CsvHeader, LineReport, _fields_of, _open

# Python's name of the profile's encoding -> DuckDB's encoding that reads the same text
# (Windows-1252 is Latin-1 except for the bytes 0x80-0x9F, which DuckDB's Latin-1 refuses;
# ASCII is read as UTF-8 after every byte was found to be ASCII)
_ENCODINGS = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "iso8859-1": "latin-1",
    "cp1252": "latin-1",
    "ascii": "utf-8",
}
_CHUNK = 8 << 20  # bytes read at a time when the file is scanned
_LONGEST_LINE = 64 << 20  # a longer line is no line of a canonical file
_NO_NULL = "\x01samkjop: no text is NULL\x02"  # DuckDB's nullstr: empty fields stay ''
_BATCH_ROWS = 500_000  # rows brought over from DuckDB at a time
_STOPS = (duckdb.InterruptException, duckdb.FatalException)  # never a reason to fall back


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dialect: CsvDialect,
    header: CsvHeader,
    stage: str,
    report: LineReport,
) -> int | None:
    """Insert every record of the file into `stage` (columns c0..cN, `_source_row`,
    `_parse_error`, `_raw_text`, `_source_line`, `_last_line`: one line per record, after
    the header's) with DuckDB's reader and fill `report`; the number of
    records. None: the fast path declines (see the module's docstring), `report` is
    untouched, and `stage` may hold some rows: drop it and read the file with the exact
    reader."""
    encoding = _duckdb_encoding(dialect)
    if encoding is None or not _plain_dialect(dialect) or _looks_like_glob(path):
        return None
    start = _data_start(path, dialect)
    if start is None:
        return None
    header_lines, first_record = start
    try:
        lines = _scan(path, dialect)
    except OSError:  # the exact reader says what is wrong with the file
        return None
    if lines is None or lines < header_lines:
        return None
    records = lines - header_lines
    if records:
        if first_record is None:
            return None
        inserted = _insert(con, path, dialect, encoding, header_lines, header, stage)
        if inserted is None or inserted[0] != records or inserted[1] != first_record:
            return None
    report.first_line = header_lines + 1
    report.lines = report.records = records
    return records


def _duckdb_encoding(dialect: CsvDialect) -> str | None:
    try:
        name = codecs.lookup(dialect.encoding).name
    except LookupError:
        return None
    return _ENCODINGS.get(name)


def _plain_dialect(dialect: CsvDialect) -> bool:
    """One printable ASCII character (or tab) each, apart, neither a space."""
    delimiter, quote = dialect.delimiter, dialect.quotechar
    for char in (delimiter, quote):
        if len(char) != 1 or not (char == "\t" or "!" <= char <= "~"):
            return False
    return delimiter != quote


def _looks_like_glob(path: Path) -> bool:
    return any(char in str(path) for char in "*?[]{}")


def _data_start(path: Path, dialect: CsvDialect) -> tuple[int, list[str] | None] | None:
    """The lines up to the header's last one, and the first record after them as the exact
    reader reads it (None: the file ends there). None: the header spans several lines,
    lines before it hold a quote character, or the file cannot be read as its encoding."""
    try:
        handle, lines, reader = _open(path, dialect, dialect.lines_per_record)
    except OSError:
        return None
    try:
        lines.skip(dialect.header_row - 1)
        lines.start_record()
        if next(reader, None) is None or lines.number != dialect.header_row:
            return None
        lines.start_record()
        first = next(lines, None)
        if dialect.header_row > 1 and _quote_before_header(path, dialect):
            return None
        return dialect.header_row, None if first is None else _fields_of(first, dialect)
    except (DeliveryRejected, UnicodeError, ValueError, OSError, csv.Error):
        return None
    finally:
        handle.close()


def _quote_before_header(path: Path, dialect: CsvDialect) -> bool:
    """DuckDB skips lines as records (a quote may join lines); the exact reader as lines.
    The quote character is ASCII: its byte is never part of another character here."""
    quote = dialect.quotechar.encode("ascii")
    with open(path, "rb") as handle:
        return any(quote in handle.readline() for _ in range(dialect.header_row - 1))


def _scan(path: Path, dialect: CsvDialect) -> int | None:
    """The file's physical lines as the exact reader counts them (read in chunks of whole
    lines); None where a line break or a quote next to a space makes the file one for the
    exact reader."""
    delimiter = re.escape(dialect.delimiter.encode("ascii"))
    quote = re.escape(dialect.quotechar.encode("ascii"))
    # spaces DuckDB trims: before a quote that opens a field, after one that closes it
    trimmed = re.compile(
        rb"(?m)(?:^|%s) +%s|%s +(?:%s|\r?$)" % (delimiter, quote, quote, delimiter)
    )
    quote_byte = ord(dialect.quotechar)
    ascii_only = codecs.lookup(dialect.encoding).name == "ascii"
    count, styles, carry = 0, set(), b""
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if chunk:
                buffer = carry + chunk if carry else chunk
                cut = buffer.rfind(b"\n") + 1
                if not cut:
                    if len(buffer) > _LONGEST_LINE:
                        return None
                    carry = buffer
                    continue
                buffer, carry = buffer[:cut], buffer[cut:]
            elif carry:  # the last line, without a line break
                buffer, carry = carry, b""
                count += 1
            else:
                break
            newlines = buffer.count(b"\n")
            if b"\r" in buffer:
                if not buffer.count(b"\r") == buffer.count(b"\r\n") == newlines:
                    return None  # a lone CR, or LF lines among CRLF lines
                styles.add("crlf")
            elif newlines:
                styles.add("lf")
            count += newlines
            if len(styles) > 1 or (ascii_only and not buffer.isascii()):
                return None
            if _quote_next_to_space(buffer, quote_byte) and trimmed.search(buffer):
                return None
    return count


def _quote_next_to_space(buffer: bytes, quote: int) -> bool:
    """Is a quote character anywhere next to a space? (The precise test is a regular
    expression, which is slow; this finds the few buffers that need it.)"""
    data = np.frombuffer(buffer, np.uint8)
    at = np.flatnonzero(data == quote)
    if not at.size:
        return False
    before, after = at[at > 0] - 1, at[at < data.size - 1] + 1
    return bool((data[before] == 32).any() or (data[after] == 32).any())


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _read_sql(path: Path, dialect: CsvDialect, encoding: str, skip: int, width: int) -> str:
    """The records as the stage's columns, numbered in the file's order; an error where a
    row has fewer fields than the header or more. DuckDB is not told the line break: it
    reads LF and CRLF alike (and `new_line = '\\r\\n'` reads no rows at all in 1.5.6)."""
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(width + 1))
    quote = _sql_text(dialect.quotechar)
    options = {
        "columns": f"{{{columns}}}",
        "header": "false",
        "skip": str(skip),
        "delim": _sql_text(dialect.delimiter),
        "quote": quote,
        "escape": quote,
        "encoding": _sql_text(encoding),
        "all_varchar": "true",
        "auto_detect": "false",
        "strict_mode": "true",
        "null_padding": "true",
        "nullstr": _sql_text(_NO_NULL),
        "ignore_errors": "false",
        "compression": "'none'",
        "hive_partitioning": "false",
        "union_by_name": "false",
        "filename": "false",
    }
    arguments = ", ".join(f"{key} = {value}" for key, value in options.items())
    fields = ", ".join(f"c{i}" for i in range(width))
    wrong_width = " OR ".join([f"c{width} IS NOT NULL"] + [f"c{i} IS NULL" for i in range(width)])
    return f"""
        SELECT {fields}, row_number() OVER () AS _source_row,
               CAST(CASE WHEN {wrong_width} THEN error('not {width} fields') END AS VARCHAR)
                   AS _parse_error,
               CAST(NULL AS VARCHAR) AS _raw_text,
               {skip} + row_number() OVER () AS _source_line,
               {skip} + row_number() OVER () AS _last_line
        FROM read_csv({_sql_text(os.path.abspath(path))}, {arguments})
    """


def _insert(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    dialect: CsvDialect,
    encoding: str,
    skip: int,
    header: CsvHeader,
    stage: str,
) -> tuple[int, list[str] | None] | None:
    """Read the file with DuckDB on a cursor of its own and insert its rows into `stage`:
    the rows inserted and the first row's fields. None: DuckDB's reader failed."""
    width = len(header.columns)
    sql = _read_sql(path, dialect, encoding, skip, width)
    cursor = con.cursor()
    rows, first = 0, None
    try:
        try:
            batches = cursor.execute(sql).to_arrow_reader(_BATCH_ROWS)
        except duckdb.Error as error:
            return _declined(error)
        while True:
            try:
                batch = batches.read_next_batch()
            except StopIteration:
                break
            except (duckdb.Error, pa.ArrowException, OSError) as error:  # DuckDB's, via Arrow
                return _declined(error)
            if not batch.num_rows:
                continue
            if first is None:
                first = [batch.column(i)[0].as_py() for i in range(width)]
            # on the caller's connection: an error here is the warehouse's, not the file's
            con.register("_stage_fast_batch", batch)
            try:
                con.execute(f"INSERT INTO {stage} BY NAME SELECT * FROM _stage_fast_batch")
            finally:
                con.unregister("_stage_fast_batch")
            rows += batch.num_rows
    finally:
        cursor.close()
    return rows, first


def _declined(error: Exception) -> None:
    """DuckDB's reader failed on the file: decline. An interrupt (or a fatal error) stops
    the load instead; it may come through Arrow as a plain OSError with DuckDB's message."""
    if isinstance(error, _STOPS) or str(error).startswith(("INTERRUPT Error", "FATAL Error")):
        raise error
    return None
