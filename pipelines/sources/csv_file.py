"""Streaming reader for delimited text exports (CSV dialects of Nordic ERPs).

Yields Arrow tables of at most `batch_rows` records, every value as text, with the
record number in the file (`_source_row`, 1 = first data record after the header) and its
lines as a text editor counts them (`_source_line` where it starts, `_last_line` where it
ends: more than one line for a record with quoted line breaks).
A record that cannot be one row (the wrong number of fields, a quote that is never
closed) is not dropped: it comes through with `_parse_error` set (naming its line in the
file, as a text editor counts lines) and the line as written in `_raw_text`, so that the
loader can put it in the rejected rows.

Strict about lines: every physical line after the header (a line ends at `\\n`, `\\r\\n`
or a lone `\\r`) is a blank line (no record), or belongs to exactly one record. A quoted
field may hold line breaks only where the profile allows it (`csv.multiline_fields`,
default true), and even then a record may not run over more than `csv.max_record_lines`
lines, nor swallow a line that is a record of its own: the line whose quote opened it is
then rejected on its own and the lines after it are read again, each as what it is. So a
stray quote can never merge the next invoice into a row that loads.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from pipelines.profiles import CsvDialect
from pipelines.sources import DeliveryRejected

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes the encoding cannot read (surrogateescape)


@dataclass(frozen=True)
class CsvHeader:
    columns: list[str]

    def index(self, column: str) -> int:
        return self.columns.index(column)


@dataclass
class LineReport:
    """How the physical lines after the header were read: every one is blank or part of
    exactly one record (`lines == blank + records + continued`)."""

    first_line: int = 0  # the first line after the header
    lines: int = 0  # physical lines after the header
    blank: int = 0  # empty lines: no record
    records: int = 0  # records (each one row: loaded, excluded or rejected)
    multiline_records: int = 0  # records over more than one line (quoted line breaks)
    continued: int = 0  # the lines of those records after their first
    broken_quotes: list[int] = field(default_factory=list)  # lines rejected for a quote

    @property
    def balanced(self) -> bool:
        return self.lines == self.blank + self.records + self.continued

    def describe(self) -> str:
        """For the delivery's message: the lines and what they became."""
        if not self.lines:
            return "no lines after the header"
        last = self.first_line + self.lines - 1
        where = f"line {last}" if self.lines == 1 else f"lines {self.first_line}-{last}"
        parts = [f"{where}: {self.records} records"]
        if self.multiline_records:
            parts.append(
                f"{self.multiline_records} of them over several lines (quoted line breaks: "
                f"{_count(self.continued, 'more line')})"
            )
        if self.blank:
            parts.append(f"{_count(self.blank, 'blank line')} (no record)")
        return ", ".join(parts)


def _count(number: int, what: str) -> str:
    return f"{number} {what}{'' if number == 1 else 's'}"


def _python_encoding(encoding: str) -> str:
    """UTF-8 files from Windows tools often start with a byte-order mark: accept it."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


class _Lines:
    """The file's physical lines, numbered as a text editor numbers them, handed one at a
    time to a csv reader: at most `limit` lines to one record (then the reader is told the
    input ended, and `open_at_end` says the record's last field was still open). Lines
    given back are read again first."""

    def __init__(self, handle, path: Path, dialect: CsvDialect, limit: int):
        self.handle = handle
        self.path = path
        self.dialect = dialect
        self.limit = limit
        self.number = 0  # the last line read from the file
        self.taken: list[tuple[int, str]] = []  # the lines of the record being read
        self.again: list[tuple[int, str]] = []  # given back (last first)
        self.open_at_end = False

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if len(self.taken) >= self.limit:
            self.open_at_end = True
            raise StopIteration
        if self.again:
            line = self.again.pop()
        else:
            text = self.handle.readline()
            if not text:
                self.open_at_end = bool(self.taken)
                raise StopIteration
            self.number += 1
            if not text.isascii() and _UNDECODABLE.search(text):
                raise DeliveryRejected(_decode_message(self.path, self.dialect, self.number, text))
            line = (self.number, text)
        self.taken.append(line)
        return line[1]

    def skip(self, count: int) -> None:
        """Lines before the header (header_row > 1) are no records."""
        for _ in range(count):
            self.taken = []
            if next(self, None) is None:
                return

    def start_record(self) -> None:
        self.taken = []
        self.open_at_end = False

    def give_back(self, lines: list[tuple[int, str]]) -> None:
        self.again.extend(reversed(lines))


def _open(path: Path, dialect: CsvDialect, limit: int):
    handle = open(  # noqa: SIM115
        path, encoding=_python_encoding(dialect.encoding), errors="surrogateescape", newline=""
    )
    lines = _Lines(handle, path, dialect, limit)
    reader = csv.reader(lines, delimiter=dialect.delimiter, quotechar=dialect.quotechar)
    return handle, lines, reader


def read_header(path: Path, profile) -> CsvHeader:
    dialect: CsvDialect = profile.csv
    handle, lines, reader = _open(path, dialect, dialect.lines_per_record)
    try:
        lines.skip(dialect.header_row - 1)
        lines.start_record()
        header = next(reader, None)
        if header is not None and lines.open_at_end:
            raise DeliveryRejected(
                f"{path.name}: line {lines.taken[0][0]}: the header has a quote that is not "
                f"closed{_on_that_line(dialect)}"
            )
    except UnicodeDecodeError as error:  # a codec without surrogateescape (rare)
        raise DeliveryRejected(
            f"{path.name}: cannot be read as {dialect.encoding} ({error.reason}); "
            "check the profile's csv.encoding"
        ) from None
    except csv.Error as error:
        raise DeliveryRejected(f"{path.name}: the header cannot be parsed: {error}") from None
    finally:
        handle.close()
    if not header or not any(cell.strip() for cell in header):
        raise DeliveryRejected(f"{path.name}: the file is empty (no header row)")
    return CsvHeader([cell.strip() for cell in header])


def _on_that_line(dialect: CsvDialect) -> str:
    if dialect.multiline_fields:
        return f" within {dialect.max_record_lines} lines (csv.max_record_lines)"
    return " on that line (csv.multiline_fields is false)"


def _decode_message(path: Path, dialect: CsvDialect, line: int, text: str) -> str:
    undecodable = _UNDECODABLE.search(text).group()
    byte = bytes([ord(undecodable) - 0xDC00])
    return (
        f"{path.name}: line {line}: cannot be read as {dialect.encoding} "
        f"(byte {byte!r} is not valid there); check the profile's csv.encoding"
    )


def _fields_of(text: str, dialect: CsvDialect) -> list[str]:
    """One line read as a record of its own."""
    return next(csv.reader([text], delimiter=dialect.delimiter, quotechar=dialect.quotechar), [])


def _line_text(lines: list[tuple[int, str]]) -> str:
    """Lines as the file has them, without the last line's line break."""
    return "".join(text for _, text in lines).rstrip("\r\n")


def _span(lines: list[tuple[int, str]]) -> tuple[int, int]:
    return lines[0][0], lines[-1][0]


def _where(lines: list[tuple[int, str]]) -> str:
    first, last = lines[0][0], lines[-1][0]
    return f"line {first}" if first == last else f"lines {first}-{last}"


class _Records:
    """The data records of a file, each with its lines, or the reason it is no row."""

    def __init__(
        self, lines: _Lines, reader, dialect: CsvDialect, header: CsvHeader, report: LineReport
    ):
        self.lines = lines
        self.reader = reader
        self.dialect = dialect
        self.header = header
        self.width = len(header.columns)
        self.report = report
        report.first_line = lines.number + 1

    def __iter__(self) -> Iterator[tuple[list[str], str | None, str | None, tuple[int, int]]]:
        """(fields, problem, raw text, (first line, last line)) of each record; blank lines
        are counted, not given."""
        lines, report = self.lines, self.report
        while True:
            lines.start_record()
            record = next(self.reader, None)
            if record is None:
                break
            taken = lines.taken
            problem = self._broken_quote(record, taken)
            if problem is not None:
                lines.give_back(taken[1:])  # read again, each line as what it is
                report.lines += 1
                report.records += 1
                report.broken_quotes.append(taken[0][0])
                yield [""] * self.width, problem, _line_text(taken[:1]), (taken[0][0],) * 2
                continue
            report.lines += len(taken)
            if not record:  # an empty line is no record
                report.blank += 1
                continue
            report.records += 1
            if len(taken) > 1:
                report.multiline_records += 1
                report.continued += len(taken) - 1
            if len(record) != self.width:
                problem = (
                    f"{_where(taken)}: the row has {_count(len(record), 'field')}, "
                    f"the header has {self.width}"
                )
                yield [""] * self.width, problem, _line_text(taken), _span(taken)
                continue
            yield record, None, None, _span(taken)

    def _broken_quote(self, record: list[str], taken: list[tuple[int, str]]) -> str | None:
        """Why the record's first line must be read on its own: its quote is never closed
        (within the lines a record may take), or it runs into a line that is a record of
        its own. None: the record is what the file says."""
        if not self.lines.open_at_end and len(taken) == 1:
            return None
        first, text = taken[0]
        opened = len(_fields_of(text, self.dialect))  # the field whose quote runs on
        column = (
            f"field {opened} ({self.header.columns[opened - 1]!r})"
            if 0 < opened <= self.width
            else f"field {opened}"
        )
        if self.lines.open_at_end:
            if len(taken) < self.lines.limit:
                return f"line {first}: the quote that opens {column} is never closed"
            return (
                f"line {first}: the quote that opens {column} is not closed"
                f"{_on_that_line(self.dialect)}"
            )
        swallowed = next(
            (
                number
                for number, line in taken[1:]
                if len(_fields_of(line, self.dialect)) >= self.width
            ),
            None,
        )
        if swallowed is None:
            return self._malformed(taken, column)
        return (
            f"line {first}: the quote that opens {column} runs into line {swallowed}, "
            "which is a record of its own (a quote that is not closed?)"
        )

    def _malformed(self, taken: list[tuple[int, str]], column: str) -> str | None:
        """A record over several lines must be well-formed CSV: each quote that closes a
        field is followed by a delimiter or the end of the line. A stray quote that another
        line's quote happens to close is not."""
        try:
            next(
                csv.reader(
                    [text for _, text in taken],
                    delimiter=self.dialect.delimiter,
                    quotechar=self.dialect.quotechar,
                    strict=True,
                )
            )
        except csv.Error as error:
            return (
                f"line {taken[0][0]}: the quote that opens {column} runs over lines "
                f"{taken[0][0]}-{taken[-1][0]} and does not close where a field ends "
                f"({error}): a quote that is not closed?"
            )
        return None


def iter_batches(
    path: Path,
    profile,
    header: CsvHeader,
    batch_rows: int = 100_000,
    report: LineReport | None = None,
) -> Iterator[pa.Table]:
    """Every data record after the header, in order, as text columns c0..cN. `report`, when
    given, is filled with how the file's lines were read."""
    dialect: CsvDialect = profile.csv
    width = len(header.columns)
    handle, lines, reader = _open(path, dialect, dialect.lines_per_record)
    try:
        lines.skip(dialect.header_row - 1)
        lines.start_record()
        next(reader, None)  # the header
        records = _Records(lines, reader, dialect, header, report or LineReport())
        row_number = 0
        rows: list[list[str]] = []
        errors: list[tuple[int, str, str]] = []
        spans: list[tuple[int, int]] = []
        for record, problem, raw, span in records:
            row_number += 1
            if problem is not None:
                errors.append((row_number, problem, raw))
            rows.append(record)
            spans.append(span)
            if len(rows) >= batch_rows:
                yield to_table(rows, row_number, width, errors, spans)
                rows, errors, spans = [], [], []
        if rows:
            yield to_table(rows, row_number, width, errors, spans)
    except UnicodeDecodeError as error:  # a codec without surrogateescape (rare)
        raise DeliveryRejected(
            f"{path.name}: near line {lines.number}: cannot be read as {dialect.encoding} "
            f"({error.reason}); check the profile's csv.encoding"
        ) from None
    except csv.Error as error:
        raise DeliveryRejected(
            f"{path.name}: cannot be parsed near line {lines.number}: {error}"
        ) from None
    finally:
        handle.close()


def to_table(
    rows: list[list[str]],
    last_row: int,
    width: int,
    errors: list[tuple[int, str, str]],
    spans: list[tuple[int, int]] | None = None,
) -> pa.Table:
    """The batch's columns; `spans`: each row's first and last line in the file (a
    workbook: its sheet row twice), as `_source_line` and `_last_line`."""
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
    if spans is not None:
        first_lines, last_lines = zip(*spans, strict=True) if spans else ((), ())
        arrays["_source_line"] = pa.array(first_lines, type=pa.int64())
        arrays["_last_line"] = pa.array(last_lines, type=pa.int64())
    return pa.table(arrays)
