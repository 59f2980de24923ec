"""Load one spend delivery into the warehouse: every row loaded or rejected with its reason.

The reader streams text batches into a staging table; one SQL statement per outcome
then casts and checks every row. Row-level problems (a bad amount, an amount or an invoice
date outside the plausible range of `limits:`, a missing required value) send the row to
`raw.rejected_rows`; file-level problems reject the delivery whole and leave the member's
earlier data untouched. A file of which no row loads is a rejected delivery too (its
rejected rows stay findable), and an unexpected error while one file is read or written
rejects that file alone: the member's other files still load.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import re
import traceback
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.orgno import clean_org_no
from pipelines.profiles import (
    REQUIRED_FIELDS,
    Columns,
    Condition,
    DateFormat,
    SourceProfile,
    supplier_key,
)
from pipelines.settings import DeclaredPeriod, Limits
from pipelines.sources import FOLDER_FORMATS, DeliveryRejected, reader_for
from pipelines.sources.csv_fast import stage_csv
from pipelines.sources.csv_file import CsvHeader, LineReport, _python_encoding
from pipelines.warehouse import AMOUNT

STAGE = "_stage_spend"
EARLIEST_INVOICE_DATE = date(1990, 1, 1)  # before: no invoice date is plausible
# raw.spend_lines.amount_excl_vat is DECIMAL(18, 4): no line can hold more than this
LINE_AMOUNT_CAP = 10**14 - 1
# amounts are read as _WIDE; one of _HUGE or more is out of range before it is computed with
# (DECIMAL(38, 4) holds less than 10^34; the difference of two amounts must fit too)
_WIDE = "DECIMAL(38, 4)"
_HUGE = f"CAST('1{'0' * 30}' AS {_WIDE})"
_DECLARED_PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2})|-Q(?P<quarter>[1-4]))?")


@dataclass(frozen=True)
class DateWindow:
    """The invoice dates a delivery can plausibly hold, and what a date outside is told."""

    earliest: date
    latest: date
    too_early: str  # "... is <too_early>"
    too_late: str

    @classmethod
    def around(
        cls, limits: Limits, declared: DeclaredPeriod | None = None, today: date | None = None
    ) -> DateWindow:
        """`limits.invoice_date_years_before` / `_after` around the delivery's declared period
        (a month, quarter or year); without one, up to `_after` years after the day the file
        is loaded. Never before EARLIEST_INVOICE_DATE."""
        before, after = limits.invoice_date_years_before, limits.invoice_date_years_after
        period = _period_bounds(declared.period) if declared else None
        floor = f"before {EARLIEST_INVOICE_DATE:%Y-%m-%d}, the earliest plausible invoice date"
        if period is None:
            today = today or date.today()
            latest = _years_later(today, after)
            return cls(
                EARLIEST_INVOICE_DATE,
                latest,
                floor,
                f"more than {_years(after)} after the day it is loaded, {today:%Y-%m-%d} "
                f"(latest plausible date {latest:%Y-%m-%d}, limits.invoice_date_years_after)",
            )
        start, end = period
        earliest, latest = _years_later(start, -before), _years_later(end, after)
        return cls(
            max(earliest, EARLIEST_INVOICE_DATE),
            latest,
            floor
            if earliest < EARLIEST_INVOICE_DATE
            else f"more than {_years(before)} before the delivery's period {declared.period} "
            f"(earliest plausible date {earliest:%Y-%m-%d}, limits.invoice_date_years_before)",
            f"more than {_years(after)} after the delivery's period {declared.period} "
            f"(latest plausible date {latest:%Y-%m-%d}, limits.invoice_date_years_after)",
        )


def _years(count: int) -> str:
    return f"{count} year{'' if count == 1 else 's'}"


def _years_later(day: date, years: int) -> date:
    """The same day `years` later (earlier when negative); 29 February becomes 28 February."""
    year = min(max(day.year + years, 1), 9999)
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


def _period_bounds(period: str) -> tuple[date, date] | None:
    """First and last day of a declared period '2024-03', '2024-Q1' or '2024'; None for a
    period that is no calendar period (`period: file` declares each file name)."""
    found = _DECLARED_PERIOD.fullmatch(period)
    if found is None:
        return None
    year = int(found["year"])
    if found["month"]:
        month = int(found["month"])
        if not 1 <= month <= 12:
            return None
        first_month, last_month = month, month
    elif found["quarter"]:
        first_month = 3 * int(found["quarter"]) - 2
        last_month = first_month + 2
    else:
        first_month, last_month = 1, 12
    following = date(year + last_month // 12, last_month % 12 + 1, 1)
    return date(year, first_month, 1), following - timedelta(days=1)


def _spaced(number: int) -> str:
    """1000000 → '1 000 000' (as the messages write amounts)."""
    return f"{number:,}".replace(",", " ")


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: str
    source_file: str
    file_sha256: str
    status: str  # loaded | skipped_duplicate | rejected
    message: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    amount_loaded: Decimal | None = None
    rows_excluded: int = 0
    recorded: bool = True  # False: nothing new was written (the file was seen before)
    detail: str = ""  # an unexpected error's traceback, for the run's log (not recorded)


def delivery_key(member_id: str, source_file: str, sha: str) -> str:
    """One delivery = one member's file (path and content). The same content under another
    name, or from another member, is another delivery."""
    return hashlib.sha256(f"{member_id}\0{source_file}\0{sha}".encode()).hexdigest()


def file_sha256(path: Path) -> str:
    """The checksum of a delivered file; of a folder: of its files' names and checksums."""
    if path.is_dir():
        digest = hashlib.sha256()
        for member in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{member.relative_to(path)}\0{file_sha256(member)}\n".encode())
        return digest.hexdigest()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sql_text(value: str | None) -> str:
    """A text as an SQL expression (a NUL character, which a literal cannot hold, as chr(0):
    a header may carry one)."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''").replace("\0", "' || chr(0) || '") + "'"


@dataclass(frozen=True)
class _RowRules:
    """What a row is checked against besides its profile: the cooperation's currency (for
    rows without one), the plausible invoice dates and the largest plausible amount."""

    currency: str
    window: DateWindow
    max_amount: int


class _Expressions:
    """SQL expressions that turn a profile's source columns into the standard fields."""

    def __init__(self, profile: SourceProfile, header: CsvHeader, member_id: str, rules: _RowRules):
        self.profile = profile
        self.header = header
        self.member_id = member_id
        self.default_currency = profile.currency or rules.currency
        self.cooperation_currency = rules.currency
        self.window = rules.window
        max_amount = rules.max_amount
        self.max_amount = min(max_amount, LINE_AMOUNT_CAP)
        self.max_amount_key = (
            "limits.max_amount"
            if max_amount <= LINE_AMOUNT_CAP
            else f"limits.max_amount {_spaced(max_amount)} is more than a line holds"
        )

    def column(self, name: str) -> str:
        return f"nullif(trim(c{self.header.index(name)}), '')"

    def source(self, columns: Columns) -> str:
        """The first of a column's alternatives that this file has (NULL: none of them)."""
        name = columns.pick(self.header.columns)
        return "NULL" if name is None else self.column(name)

    def field(self, name: str) -> str:
        source = self.profile.fields.get(name)
        if source is None:
            return "NULL"
        if source.constant is not None:
            return _sql_text(source.constant)
        if source.concat:
            parts = ", ".join(self.source(c) for c in source.concat)
            return f"nullif(concat_ws({_sql_text(source.separator)}, {parts}), '')"
        return self.source(source.column)  # an optional column the file lacks: NULL

    def art(self) -> str:
        """The art by the profile's rule; `default` where the rule finds none."""
        rule = self.profile.art
        art = "NULL"
        if rule.account_mapping:
            art = "_art.art"
        elif rule.column:
            art = self.source(rule.column)
        elif rule.account_start:
            art = (
                f"nullif(substr({self.field('account')}, {rule.account_start}, "
                f"{rule.account_length}), '')"
            )
        return art if rule.default is None else f"coalesce({art}, {_sql_text(rule.default)})"

    def art_keys(self) -> tuple[str, str, str]:
        """What an art mapping row is matched on: the account, and (when the mapping names
        suppliers) the supplier's name and organisation number as profiles.supplier_key
        folds them."""
        if not any(m.supplier for m in self.profile.art.account_mapping):
            return self.field("account"), "NULL", "NULL"
        return self.field("account"), self._folded("supplier_name"), self._folded("supplier_org_no")

    def art_join(self) -> str:
        if not self.profile.art.account_mapping:
            return ""
        account, name, number = self.art_keys()
        return (
            f"LEFT JOIN _stage_art AS _art ON _art.account IS NOT DISTINCT FROM {account} "
            f"AND _art.supplier_name IS NOT DISTINCT FROM {name} "
            f"AND _art.supplier_number IS NOT DISTINCT FROM {number}"
        )

    def _folded(self, name: str) -> str:
        """Lower case, runs of white space (no-break spaces too) one space, as str.split()."""
        spaces = "[\\s\\x{00a0}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}]+"
        return f"nullif(lower(trim(regexp_replace({self.field(name)}, '{spaces}', ' ', 'g'))), '')"

    def exclusion(self) -> str:
        """The reason of the first `exclude_rows` entry whose conditions all hold; NULL when
        none does (or the profile has none)."""
        if not self.profile.exclude_rows:
            return "NULL"
        cases = [
            f"WHEN {' AND '.join(self._condition(c) for c in row_filter.conditions)} "
            f"THEN {_sql_text(row_filter.reason)}"
            for row_filter in self.profile.exclude_rows
        ]
        return "CASE " + " ".join(cases) + " END"

    def _condition(self, condition: Condition) -> str:
        value = self.source(condition.column)
        if condition.test == "empty":
            return f"({value} IS {'' if condition.values == ('true',) else 'NOT '}NULL)"
        if condition.test == "matches":
            return f"regexp_matches(coalesce({value}, ''), {_sql_text(condition.values[0])})"
        values = ", ".join(_sql_text(v.strip().lower()) for v in condition.values)
        if condition.test == "not_one_of":
            return f"coalesce(lower({value}) NOT IN ({values}), true)"
        return f"coalesce(lower({value}) IN ({values}), false)"

    def amount(self) -> str:
        """The amount excluding VAT: gross minus the VAT column where the source has one,
        negated where the sign column holds one of the profile's negative values; as
        DECIMAL(38, 4), so that an amount too large for a line is seen and rejected (NULL:
        not a number, or one far beyond any plausible amount)."""
        rule = self.profile.amount
        amount = self.computable("_gross")
        if rule.vat_column:
            amount = f"({amount} - coalesce({self.computable('_vat')}, 0))"
        if rule.sign_column:
            negative = ", ".join(_sql_text(v.upper()) for v in rule.negative_values)
            amount = (
                f"(CASE WHEN upper({self.source(rule.sign_column)}) IN ({negative}) "
                f"THEN -1 ELSE 1 END * {amount})"
            )
        return amount

    def parsed_numbers(self) -> str:
        """The amount (and VAT) columns read once as DECIMAL(38, 4), as `_gross` and `_vat`
        (NULL: not a number, or one beyond what DECIMAL(38, 4) holds)."""
        vat = self.profile.amount.vat_column
        gross = self._wide(self.number_text(self.field("amount_excl_vat")))
        vat = self._wide(self.number_text(self.source(vat))) if vat else "NULL"
        return f"{gross} AS _gross, {vat} AS _vat"

    @staticmethod
    def _wide(number: str) -> str:
        """As DECIMAL(18, 4) first: DuckDB reads text as DECIMAL(38, 4) some 20 times slower,
        so only the few numbers too large for the first are read so."""
        return f"coalesce(try_cast({number} AS {AMOUNT}), try_cast({number} AS {_WIDE}))"

    @staticmethod
    def computable(column: str) -> str:
        """A parsed number, or NULL when it is so large (≥ 10^30) that computing with it
        could overflow DECIMAL(38, 4) (the checks then say it is out of range)."""
        return f"CASE WHEN abs({column}) < {_HUGE} THEN {column} END"

    def is_number(self, text: str) -> str:
        """The text is a finite number, of any size."""
        return f"coalesce(isfinite(try_cast({self.number_text(text)} AS DOUBLE)), false)"

    def optional_number(self, name: str, scale: int) -> str:
        return f"try_cast({self.number_text(self.field(name))} AS DECIMAL(18, {scale}))"

    def number_text(self, text: str) -> str:
        """A number as the source writes it, as text DuckDB can cast."""
        csv = self.profile.csv
        for removed in ([csv.thousands] if csv.thousands else []) + [" ", "\u00a0", "\u202f"]:
            text = f"replace({text}, {_sql_text(removed)}, '')"
        if csv.decimal != ".":
            text = f"replace({text}, {_sql_text(csv.decimal)}, '.')"
        return text

    def invoice_date(self) -> str:
        """The profile's formats in order, then ISO (what spreadsheets and XML give); the
        first format that reads a plausible date (inside the delivery's DateWindow) wins, so
        that an early format cannot turn a value into a far-off year that a later format
        reads right."""
        value = self.field("invoice_date")
        formats = [*self.profile.csv.date_formats, DateFormat("%Y-%m-%d", "%Y-%m-%d")]
        parsed = list(
            dict.fromkeys(
                f"try_strptime({self._padded_date(value, f)}, {_sql_text(f.padded)})"
                for f in formats
            )
        )
        window = self.window
        plausible = [
            f"CASE WHEN cast({p} AS DATE) BETWEEN DATE '{window.earliest:%Y-%m-%d}' "
            f"AND DATE '{window.latest:%Y-%m-%d}' THEN {p} END"
            for p in parsed
        ]
        return f"cast(coalesce({', '.join(plausible + parsed)}) as date)"

    @staticmethod
    def _padded_date(value: str, date_format: DateFormat) -> str:
        """A digits-only value one digit short of a `%-d`/`%-m` format's width gets the
        unpadded part's zero back (`1102022` → `01102022` for %-d%m%Y)."""
        if date_format.width is None:
            return value
        at = date_format.unpadded_at
        return (
            f"CASE WHEN regexp_full_match({value}, '[0-9]{{{date_format.width - 1}}}') "
            f"THEN concat(left({value}, {at}), '0', substr({value}, {at + 1})) "
            f"ELSE {value} END"
        )

    def currency(self) -> str:
        return f"upper(coalesce({self.field('currency')}, {_sql_text(self.default_currency)}))"

    def municipality(self) -> str:
        return f"coalesce({self.field('municipality_id')}, {_sql_text(self.member_id)})"

    def raw_row(self) -> str:
        pairs = ", ".join(f"{_sql_text(name)}, c{i}" for i, name in enumerate(self.header.columns))
        return f"coalesce(_raw_text, cast(json_object({pairs}) as varchar))"

    def keeps_delivered_text(self) -> str:
        """A loaded line in a currency other than the cooperation's: the models reject it
        when its month has no exchange rate, so its delivered text is kept
        (raw.delivered_text) for rejected_rows.raw_row. Usually no line of a file is."""
        return (
            "_excluded IS NULL AND _reason IS NULL AND "
            f"currency IS DISTINCT FROM {_sql_text(self.cooperation_currency)}"
        )

    def rejection_reason(self) -> str:
        """The first problem of a row, in words an analyst understands; NULL when none."""
        checks = ["WHEN _parse_error IS NOT NULL THEN _parse_error"]
        for name in REQUIRED_FIELDS:
            checks.append(
                f"WHEN {self.field(name)} IS NULL THEN "
                f"{_sql_text('missing required value: ' + self._describe(name))}"
            )
        date_formats = " or ".join(f.written for f in self.profile.csv.date_formats)
        checks += self._vat_check()
        window, amount_text = self.window, self.field("amount_excl_vat")
        out_of_range = (
            f" is outside the plausible range of ±{_spaced(self.max_amount)} "
            f"({self.max_amount_key})"
        )
        checks += [
            f"WHEN invoice_date IS NULL THEN 'invoice_date ' || {self._quoted('invoice_date')}"
            f" || ' is not a valid date ({date_formats})'",
            f"WHEN invoice_date < DATE '{window.earliest:%Y-%m-%d}' THEN 'invoice_date ' || "
            f"{self._quoted('invoice_date')} || {_sql_text(' is ' + window.too_early)}",
            f"WHEN invoice_date > DATE '{window.latest:%Y-%m-%d}' THEN 'invoice_date ' || "
            f"{self._quoted('invoice_date')} || {_sql_text(' is ' + window.too_late)}",
            f"WHEN amount_excl_vat IS NULL AND NOT {self.is_number(amount_text)} THEN "
            f"'amount_excl_vat ' || {self._quoted('amount_excl_vat')} || "
            f"{_sql_text(f' is not a number (decimal separator {self.profile.csv.decimal})')}",
            f"WHEN amount_excl_vat IS NULL OR abs(amount_excl_vat) > {self.max_amount} THEN "
            f"'amount_excl_vat ' || {self._quoted('amount_excl_vat')} || {self._vat_part()}"
            f" || {_sql_text(out_of_range)}",
            *self._optional_number_checks(),
            "WHEN NOT regexp_full_match(currency, '[A-Z]{3}') THEN "
            "'currency ''' || currency || ''' is not a 3-letter currency code'",
            f"WHEN municipality_id <> {_sql_text(self.member_id)} THEN 'municipality_id ''' || "
            f"municipality_id || ''' does not match the delivering member "
            f"{self.member_id}'",
        ]
        return "CASE " + " ".join(checks) + " END"

    def _optional_number_checks(self) -> list[str]:
        decimal = _sql_text(f" is not a number (decimal separator {self.profile.csv.decimal})")
        checks = []
        for name, limit in (("quantity", 10**14 - 1), ("unit_price", 10**12 - 1)):
            too_large = _sql_text(f" is outside the range a line can hold (±{_spaced(limit)})")
            checks.append(
                f"WHEN {self.field(name)} IS NOT NULL AND {name} IS NULL THEN "
                f"'{name} ' || {self._quoted(name)} || "
                f"CASE WHEN {self.is_number(self.field(name))} THEN {too_large} "
                f"ELSE {decimal} END"
            )
        return checks

    def _vat_part(self) -> str:
        """With a VAT column the amount checked is the gross amount minus VAT: say so."""
        if not self.profile.amount.vat_column:
            return "''"
        vat = self.source(self.profile.amount.vat_column)
        return f"' minus VAT ' || '''' || coalesce({vat}, '') || ''''"

    def _vat_check(self) -> list[str]:
        if not self.profile.amount.vat_column:
            return []
        vat = self.source(self.profile.amount.vat_column)
        column = self.profile.amount.vat_column.pick(self.header.columns)
        problem = _sql_text(f"VAT (column {column!r}) is not a number")
        out_of_range = _sql_text(
            f"VAT (column {column!r}) is outside the plausible range of "
            f"±{_spaced(self.max_amount)} ({self.max_amount_key})"
        )
        return [
            f"WHEN {vat} IS NOT NULL AND {self.computable('_vat')} IS NULL THEN "
            f"CASE WHEN {self.is_number(vat)} THEN {out_of_range} ELSE {problem} END"
        ]

    def _describe(self, name: str) -> str:
        source = self.profile.fields[name]
        if source.column:
            return f"{name} (column {source.column.pick(self.header.columns)!r})"
        return name

    def _quoted(self, name: str) -> str:
        return f"'''' || coalesce({self.field(name)}, '') || ''''"


def _check_columns(path: Path, profile: SourceProfile, header: CsvHeader) -> None:
    """Every column the profile needs is in the header (of alternatives: one of them), and
    the one read is there once."""
    for purpose, columns in profile.source_columns():
        name = columns.pick(header.columns)
        if name is None:
            raise DeliveryRejected(
                f"{path.name}: missing required column {columns} for {purpose} "
                f"(profile {profile.name!r}); the header has: {', '.join(header.columns)}"
            )
        if header.columns.count(name) > 1:
            raise DeliveryRejected(f"{path.name}: column {name!r} appears twice")


def _stage(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    profile: SourceProfile,
    header: CsvHeader,
    lines: LineReport | None = None,
    limits: Limits | None = None,
) -> int:
    """Stage every record of the file; `lines` (CSV): how its physical lines were read;
    `limits`: the bounds of the readers that have some (pipelines.sources).

    A CSV file in which every line after the header is one record is staged by DuckDB's
    reader (pipelines/sources/csv_fast.py); any other, or one the fast path is not sure
    of, by the exact reader, with the same rows, lines and messages."""
    _create_stage(con, header)
    rows = None
    if lines is not None and profile.format == "csv":
        rows = stage_csv(con, path, profile.csv, header, STAGE, lines)
        if rows is None:  # declined: the exact reader reads the file from the start
            _create_stage(con, header)
    if rows is None:
        rows = _stage_batches(con, path, profile, header, lines, limits)
    if lines is not None and not lines.balanced:  # never: each line is counted once
        raise RuntimeError(f"{path.name}: the lines read do not add up: {lines}")
    if rows == 0:
        raise DeliveryRejected(f"{path.name}: the file has a header but no data rows")
    return rows


def _create_stage(con: duckdb.DuckDBPyConnection, header: CsvHeader) -> None:
    columns = ", ".join(f"c{i} VARCHAR" for i in range(len(header.columns)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} ({columns}, _source_row BIGINT, "
        "_parse_error VARCHAR, _raw_text VARCHAR, _source_line BIGINT, _last_line BIGINT)"
    )


def _stage_batches(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    profile: SourceProfile,
    header: CsvHeader,
    lines: LineReport | None,
    limits: Limits | None,
) -> int:
    """The exact reader of the profile's format: its text batches into the stage."""
    reader = reader_for(profile.format, limits)
    batches = (
        reader.iter_batches(path, profile, header, report=lines)
        if lines is not None
        else reader.iter_batches(path, profile, header)
    )
    rows = 0
    for batch in batches:
        con.register("_batch", batch)
        # by name: a reader that does not know its rows' lines leaves _source_line NULL
        con.execute(f"INSERT INTO {STAGE} BY NAME SELECT * FROM _batch")
        con.unregister("_batch")
        rows += batch.num_rows
    return rows


def _stage_org_numbers(con: duckdb.DuckDBPyConnection, expr: _Expressions, country: str) -> None:
    raw_values = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT {expr.field('supplier_org_no')} FROM {STAGE}"
        ).fetchall()
        if row[0] is not None
    ]
    cleaned = [clean_org_no(value, country) for value in raw_values]
    table = pa.table(
        {
            "raw": pa.array([c.raw for c in cleaned], pa.string()),
            "org_no": pa.array([c.compact for c in cleaned], pa.string()),
            "is_valid": pa.array([c.is_valid for c in cleaned], pa.bool_()),
            "original": pa.array(raw_values, pa.string()),
        }
    )
    con.register("_org_numbers", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _stage_org_numbers AS SELECT * FROM _org_numbers")
    con.unregister("_org_numbers")


def _stage_art_mapping(
    con: duckdb.DuckDBPyConnection, profile: SourceProfile, country: str
) -> None:
    """The profile's art mapping rows, with how specific each is and the supplier folded
    as the lines' suppliers are (a valid organisation number also by its compact form)."""
    rows = profile.art.account_mapping
    numbers = [clean_org_no(m.supplier, country) if m.supplier else None for m in rows]
    table = pa.table(
        {
            "account": pa.array([m.account for m in rows], pa.string()),
            "is_prefix": pa.array([m.account_is_prefix for m in rows], pa.bool_()),
            "supplier_key": pa.array([supplier_key(m.supplier) for m in rows], pa.string()),
            "supplier_org_no": pa.array([n.compact if n else None for n in numbers], pa.string()),
            "specificity": pa.array([m.specificity for m in rows], pa.int64()),
            "art": pa.array([m.art for m in rows], pa.string()),
        }
    )
    con.register("_art_rows", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _stage_art_map AS SELECT * FROM _art_rows")
    con.unregister("_art_rows")


def _stage_art_lookup(con: duckdb.DuckDBPyConnection, expr: _Expressions) -> None:
    """The art of each distinct (account, supplier) of the delivery's loadable rows, by the
    mapping's precedence: the most specific account match (an exact code, then the longest
    prefix); among rows of the same account pattern, one naming the line's supplier first;
    a supplier-only row (no account) when no account row matches. No row: NULL.

    The account patterns are matched against the few distinct accounts, and the result
    joined to the lines' keys on equality, so the cost grows with the keys, not with keys
    times mapping rows."""
    if not expr.profile.art.account_mapping:
        return
    account, name, number = expr.art_keys()
    supplier_columns = "r.art, r.specificity, r.supplier_key IS NOT NULL AS for_supplier"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _stage_art AS
        WITH line_keys AS (
            SELECT DISTINCT
                {account} AS account, {name} AS supplier_name, {number} AS supplier_number,
                o.org_no
            FROM _stage_checked AS s
            LEFT JOIN _stage_org_numbers AS o ON o.original = {expr.field("supplier_org_no")}
            WHERE s._excluded IS NULL AND s._reason IS NULL
        ),
        accounts AS (
            SELECT DISTINCT account FROM line_keys WHERE account IS NOT NULL
        ),
        account_rows AS (
            SELECT a.account AS line_account, m.*
            FROM accounts AS a
            JOIN _stage_art_map AS m
              ON m.account IS NOT NULL
             AND CASE WHEN m.is_prefix THEN starts_with(a.account, m.account)
                      ELSE a.account = m.account END
        ),
        supplier_rows AS (
            SELECT * FROM _stage_art_map WHERE account IS NULL
        ),
        candidates AS (
            SELECT k.account, k.supplier_name, k.supplier_number, {supplier_columns}
            FROM line_keys AS k
            JOIN account_rows AS r ON r.line_account = k.account
            WHERE r.supplier_key IS NULL
               OR r.supplier_key = k.supplier_name
               OR r.supplier_key = k.supplier_number
               OR r.supplier_org_no = k.org_no
            UNION ALL
            SELECT k.account, k.supplier_name, k.supplier_number, {supplier_columns}
            FROM line_keys AS k JOIN supplier_rows AS r ON r.supplier_key = k.supplier_name
            UNION ALL
            SELECT k.account, k.supplier_name, k.supplier_number, {supplier_columns}
            FROM line_keys AS k JOIN supplier_rows AS r ON r.supplier_key = k.supplier_number
            UNION ALL
            SELECT k.account, k.supplier_name, k.supplier_number, {supplier_columns}
            FROM line_keys AS k JOIN supplier_rows AS r ON r.supplier_org_no = k.org_no
        ),
        ranked AS (
            SELECT
                *,
                row_number() OVER (
                    PARTITION BY account, supplier_name, supplier_number
                    ORDER BY specificity DESC, for_supplier DESC
                ) AS choice
            FROM candidates
        )
        SELECT account, supplier_name, supplier_number, art FROM ranked WHERE choice = 1
        """
    )


def _read_header(path: Path, profile: SourceProfile, limits: Limits | None = None) -> CsvHeader:
    if path.is_dir() and profile.format not in FOLDER_FORMATS:
        raise DeliveryRejected(
            f"{path.name}: is a folder, but profile {profile.name!r} reads {profile.format} files"
        )
    return reader_for(profile.format, limits).read_header(path, profile)


def _checked_rows_sql(expr: _Expressions) -> str:
    """Every staged row typed, with `_excluded` (the profile's exclude_rows reason; never for
    a row that could not be split into its columns) and `_reason` (why it is rejected)."""
    return f"""
        WITH numbers AS (
            SELECT *, {expr.parsed_numbers()} FROM {STAGE}
        ),
        typed AS (
            SELECT
                *,
                {expr.municipality()} AS municipality_id,
                {expr.invoice_date()} AS invoice_date,
                {expr.amount()} AS amount_excl_vat,
                {expr.currency()} AS currency,
                {expr.optional_number("quantity", 4)} AS quantity,
                {expr.optional_number("unit_price", 6)} AS unit_price
            FROM numbers
        )
        SELECT
            *,
            CASE WHEN _parse_error IS NULL THEN {expr.exclusion()} END AS _excluded,
            {expr.rejection_reason()} AS _reason
        FROM typed
    """


def _insert_outcomes(
    con: duckdb.DuckDBPyConnection,
    expr: _Expressions,
    delivery_id: str,
    source_file: str,
    sha: str,
    loaded_at: datetime,
    country: str,
    path: Path | None = None,
) -> None:
    """Each staged row goes to exactly one of raw.spend_lines (loaded), raw.excluded_rows
    (an exclude_rows entry holds) or raw.rejected_rows (with its reason). A loaded line's
    spend_line_key is the delivery's new number * ROWS_PER_DELIVERY + its source_row
    (pipelines.warehouse): unique in the warehouse, never changed once committed. A rejected
    row of a CSV file (`path`) keeps the lines it was delivered as (_delivered_lines); so
    does, in raw.delivered_text, a loaded line in a foreign currency (of any format: the
    text its rejection would keep), in case the models find no exchange rate for it."""
    from pipelines.warehouse import ROWS_PER_DELIVERY, next_spend_line_key_base

    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_checked AS {_checked_rows_sql(expr)}")
    if path is not None and expr.profile.format == "csv":
        _delivered_lines(con, path, expr)
    _stage_art_lookup(con, expr)
    last_row = con.execute("SELECT max(_source_row) FROM _stage_checked").fetchone()[0] or 0
    if last_row >= ROWS_PER_DELIVERY:  # never for a real file; the key needs it
        raise DeliveryRejected(f"{Path(source_file).name}: more than {ROWS_PER_DELIVERY - 1} rows")
    key_base = next_spend_line_key_base(con)
    con.execute(
        f"""
        INSERT INTO raw.spend_lines
        SELECT
            ?, s.municipality_id, {expr.field("invoice_id")}, {expr.field("line_no")},
            s.invoice_date, o.raw, o.org_no, ?, coalesce(o.is_valid, false),
            {expr.field("supplier_name")}, {expr.field("account")}, {expr.art()},
            s.amount_excl_vat, s.currency, {expr.field("item_code")},
            upper({expr.field("item_code_scheme")}), {expr.field("description")},
            {expr.field("order_ref")}, {expr.field("contract_ref")},
            ?, s._source_row, ?, ?,
            {expr.field("department")}, {expr.field("seller_item_id")},
            s.quantity, s.unit_price, {expr.field("local_supplier_id")},
            ? + s._source_row, s._source_line
        FROM _stage_checked AS s
        LEFT JOIN _stage_org_numbers AS o ON o.original = {expr.field("supplier_org_no")}
        {expr.art_join()}
        WHERE s._excluded IS NULL AND s._reason IS NULL
        """,
        [delivery_id, country, source_file, sha, loaded_at, key_base],
    )
    con.execute(
        f"""
        INSERT INTO raw.excluded_rows (
            delivery_id, municipality_id, source_file, source_row, reason, raw_row,
            amount_excl_vat, excluded_at, source_line
        )
        SELECT ?, {_sql_text(expr.member_id)}, ?, _source_row, _excluded, {expr.raw_row()},
               CASE WHEN abs(amount_excl_vat) <= {expr.max_amount} THEN amount_excl_vat END, ?,
               _source_line
        FROM _stage_checked WHERE _excluded IS NOT NULL
        """,
        [delivery_id, source_file, loaded_at],
    )
    con.execute(
        f"""
        INSERT INTO raw.rejected_rows
        SELECT ?, {_sql_text(expr.member_id)}, ?, _source_row, _reason, {expr.raw_row()}, ?,
               _source_line
        FROM _stage_checked WHERE _excluded IS NULL AND _reason IS NOT NULL
        """,
        [delivery_id, source_file, loaded_at],
    )
    con.execute(
        f"""
        INSERT INTO raw.delivered_text (delivery_id, source_row, source_line, delivered_text)
        SELECT ?, _source_row, _source_line, {expr.raw_row()}
        FROM _stage_checked WHERE {expr.keeps_delivered_text()}
        """,
        [delivery_id],
    )
    con.execute("DROP TABLE IF EXISTS _stage_art")


def _delivered_lines(con: duckdb.DuckDBPyConnection, path: Path, expr: _Expressions) -> None:
    """The rows to be rejected, and the loaded lines in a foreign currency
    (`keeps_delivered_text`), get the file's lines they came from (`_raw_text`), exactly as
    delivered: the file's bytes decoded with the profile's encoding, line breaks inside a
    record kept, the last one's dropped. Nothing is read for a file without such rows (a row
    the reader could not split already has its lines); else one pass, up to the last line
    wanted (_file_lines)."""
    wanted = con.execute(
        "SELECT _source_row, _source_line, coalesce(_last_line, _source_line) "
        "FROM _stage_checked WHERE ((_excluded IS NULL AND _reason IS NOT NULL) "
        f"OR ({expr.keeps_delivered_text()})) "
        "AND _raw_text IS NULL AND _source_line IS NOT NULL ORDER BY _source_line"
    ).fetchall()
    if not wanted:
        return
    needed = {number for _, start, end in wanted for number in range(start, end + 1)}
    lines = _file_lines(path, expr.profile.csv.encoding, needed)
    rows, texts = [], []
    for row, start, end in wanted:
        rows.append(row)
        texts.append("".join(lines.get(n, "") for n in range(start, end + 1)).rstrip("\r\n"))
    table = pa.table({"row": pa.array(rows, pa.int64()), "text": pa.array(texts, pa.string())})
    con.register("_delivered", table)
    try:
        con.execute(
            "UPDATE _stage_checked SET _raw_text = _delivered.text FROM _delivered "
            "WHERE _stage_checked._source_row = _delivered.row"
        )
    finally:
        con.unregister("_delivered")


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")  # one line with its break, as readline ends it
_TEXT_CHUNK = 1 << 20  # characters read at a time by _file_lines


def _file_lines(path: Path, encoding: str, needed: set[int]) -> dict[int, str]:
    """The `needed` lines of a text file (numbered from 1, each with its line break), read
    the exact reader's way (csv_file._open): a line ends at \\n, \\r\\n or a lone \\r.
    The lines of each chunk are counted in C (str.count) and split (in C) only where a
    needed line is: the Python work grows with the needed lines, not with the file's."""
    found: dict[int, str] = {}
    ordered = sorted(needed)
    last = ordered[-1]
    numbered = 0  # the lines before `rest`
    rest = ""
    with open(
        path, encoding=_python_encoding(encoding), errors="surrogateescape", newline=""
    ) as handle:
        while numbered < last:
            chunk = handle.read(_TEXT_CHUNK)
            text = rest + chunk
            if not chunk:  # the end: a last line without a line break
                if text and numbered + 1 in needed:
                    found[numbered + 1] = text
                break
            # complete lines only; a CR at the end may be the first half of a CRLF
            seen = text[:-1] if text.endswith("\r") else text
            cut = max(seen.rfind("\n"), seen.rfind("\r")) + 1
            complete, rest = text[:cut], text[cut:]
            count = complete.count("\n") + complete.count("\r") - complete.count("\r\n")
            # the needed lines in this chunk: ordered[first:end]
            first = bisect.bisect_right(ordered, numbered)
            end = bisect.bisect_right(ordered, numbered + count, lo=first)
            if first < end:
                lines = _LINE.findall(complete)
                for number in ordered[first:end]:
                    found[number] = lines[number - numbered - 1]
            numbered += count
    return found


def _recorded_status(con: duckdb.DuckDBPyConnection, delivery_id: str):
    return con.execute(
        "SELECT status, loaded_at FROM raw.deliveries WHERE delivery_id = ?", [delivery_id]
    ).fetchone()


def _already_delivered(con: duckdb.DuckDBPyConnection, member_id: str, sha: str):
    return con.execute(
        "SELECT source_file, loaded_at FROM raw.deliveries WHERE municipality_id = ? "
        "AND file_sha256 = ? AND status = 'loaded' ORDER BY loaded_at LIMIT 1",
        [member_id, sha],
    ).fetchone()


def _record(
    con: duckdb.DuckDBPyConnection,
    member_id: str,
    profile_name: str,
    result: DeliveryResult,
    loaded_at: datetime,
    series: str | None = None,
    period: str | None = None,
) -> None:
    con.execute(
        """
        INSERT INTO raw.deliveries (
            delivery_id, municipality_id, source_file, file_sha256, profile, rows_read,
            rows_loaded, rows_rejected, amount_loaded, first_invoice_date, last_invoice_date,
            status, message, loaded_at, series, period, rows_excluded
        )
        SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?,
               (SELECT min(invoice_date) FROM raw.spend_lines WHERE delivery_id = ?),
               (SELECT max(invoice_date) FROM raw.spend_lines WHERE delivery_id = ?),
               ?, ?, ?, ?, ?, ?
        """,
        [
            result.delivery_id,
            member_id,
            result.source_file,
            result.file_sha256,
            profile_name,
            result.rows_read,
            result.rows_loaded,
            result.rows_rejected,
            result.amount_loaded,
            result.delivery_id,
            result.delivery_id,
            result.status,
            result.message,
            loaded_at,
            series,
            period,
            result.rows_excluded,
        ],
    )


def _replace_earlier_deliveries(
    con: duckdb.DuckDBPyConnection,
    member_id: str,
    delivery_id: str,
    declared: DeclaredPeriod,
    name: str,
    replaced_at: datetime,
) -> None:
    """A re-delivery: the new delivery replaces every earlier loaded delivery of the same
    member that the cooperation declared to cover the same series and period. The replaced
    rows stay in raw (for audit); dbt leaves them out of the figures."""
    con.execute(
        """
        INSERT INTO raw.delivery_replacements (
            delivery_id, replaced_by, replaced_at, reason, rows_replaced, amount_replaced
        )
        SELECT
            earlier.delivery_id, ?, ?,
            'replaced by ' || ? || ': a re-delivery of period ' || earlier.period,
            earlier.rows_loaded,
            (SELECT coalesce(sum(amount_excl_vat), 0) FROM raw.spend_lines AS lines
             WHERE lines.delivery_id = earlier.delivery_id)
        FROM raw.deliveries AS earlier
        LEFT JOIN raw.delivery_replacements AS done
          ON done.delivery_id = earlier.delivery_id
        WHERE earlier.municipality_id = ? AND earlier.series = ? AND earlier.period = ?
          AND earlier.status = 'loaded' AND earlier.delivery_id <> ?
          AND done.delivery_id IS NULL
        """,
        [
            delivery_id,
            replaced_at,
            name,
            member_id,
            declared.series,
            declared.period,
            delivery_id,
        ],
    )


def _forget_rejected_attempt(con: duckdb.DuckDBPyConnection, delivery_id: str) -> None:
    """A delivery rejected before is tried again: its old record (and anything it may have
    left) goes, so that a retry can never count a row twice."""
    for table in ("deliveries", "spend_lines", "rejected_rows", "excluded_rows", "delivered_text"):
        con.execute(f"DELETE FROM raw.{table} WHERE delivery_id = ?", [delivery_id])


def earlier_outcome(
    con: duckdb.DuckDBPyConnection, member_id: str, path: Path, sha: str
) -> DeliveryResult | None:
    """What an earlier run already did with this file (or with the same content from this
    member under another name), or None when the file is new or was rejected before."""
    source_file = str(path)
    delivery_id = delivery_key(member_id, source_file, sha)
    recorded = _recorded_status(con, delivery_id)
    if recorded and recorded[0] != "rejected":
        return DeliveryResult(
            delivery_id,
            source_file,
            sha,
            "skipped_duplicate",
            f"already {recorded[0].replace('_', ' ')} at {recorded[1]:%Y-%m-%d %H:%M}",
            recorded=False,
        )
    earlier = _already_delivered(con, member_id, sha)
    if earlier:
        return DeliveryResult(
            delivery_id,
            source_file,
            sha,
            "skipped_duplicate",
            f"same content as {Path(earlier[0]).name}, loaded "
            f"{earlier[1]:%Y-%m-%d %H:%M}: not loaded twice",
        )
    return None


def record_rejection(
    con: duckdb.DuckDBPyConnection,
    member_id: str,
    path: Path,
    profile_name: str,
    message: str,
    declared: DeclaredPeriod | None = None,
    sha: str | None = None,
) -> DeliveryResult:
    """A delivery that cannot be read (unknown profile, undeclared period, ...). A file an
    earlier run loaded is never turned `rejected`: it stays loaded and the problem is
    reported; a new file is recorded as rejected and tried again on the next run."""
    sha = sha or file_sha256(path)
    earlier = earlier_outcome(con, member_id, path, sha)
    if earlier is not None:
        return DeliveryResult(
            earlier.delivery_id,
            earlier.source_file,
            sha,
            "rejected",
            f"{message} (this file was loaded before and stays as it was)",
            recorded=False,
        )
    delivery_id = delivery_key(member_id, str(path), sha)
    _forget_rejected_attempt(con, delivery_id)
    result = DeliveryResult(delivery_id, str(path), sha, "rejected", message)
    series, period = (declared.series, declared.period) if declared else (None, None)
    _record(con, member_id, profile_name, result, datetime.now(), series, period)
    return result


# Failures of the warehouse or of the run itself (not of one file): they stop the run.
_RUN_FAILURES = (
    duckdb.FatalException,
    duckdb.InternalException,
    duckdb.ConnectionException,
    duckdb.IOException,
    duckdb.InterruptException,
    duckdb.TransactionException,
)


def load_spend_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    member_id: str,
    profile: SourceProfile,
    cooperation_country: str,
    cooperation_currency: str,
    declared: DeclaredPeriod | None = None,
    sha: str | None = None,
    limits: Limits | None = None,
    today: date | None = None,
) -> DeliveryResult:
    """Load one delivered file for one member. Idempotent: a file already recorded is not
    loaded again; a file rejected before is tried again (its profile may have been fixed).
    With a declared period, the delivery replaces the member's earlier deliveries of the
    same series and period. `limits` (the cooperation's `limits:`) bound the amounts and
    invoice dates a row may have; `today` is the day the file is loaded (for tests).

    The delivery is rejected whole when the file cannot be used, when no row of it loads,
    or when anything unexpected goes wrong while it is read or written (then with the
    error's first line): its transaction is rolled back and the next file is loaded as
    usual. Only a failure of the warehouse itself stops the run."""
    sha = sha or file_sha256(path)
    source_file = str(path)
    delivery_id = delivery_key(member_id, source_file, sha)
    loaded_at = datetime.now()
    series, period = (declared.series, declared.period) if declared else (None, None)
    earlier = earlier_outcome(con, member_id, path, sha)
    if earlier is not None:
        if earlier.recorded:  # same content under another name: recorded as a duplicate
            _forget_rejected_attempt(con, delivery_id)
            _record(con, member_id, profile.name, earlier, loaded_at, series, period)
        return earlier
    _forget_rejected_attempt(con, delivery_id)
    limits = limits or Limits()
    window = DateWindow.around(limits, declared, today or loaded_at.date())
    con.execute("BEGIN TRANSACTION")
    try:
        result = _load_rows(
            con,
            path,
            member_id,
            profile,
            profile.country or cooperation_country,
            _RowRules(cooperation_currency, window, limits.max_amount),
            (delivery_id, source_file, sha, loaded_at),
            limits,
        )
        _record(con, member_id, profile.name, result, loaded_at, series, period)
        if declared is not None and result.status == "loaded" and result.rows_loaded:
            _replace_earlier_deliveries(con, member_id, delivery_id, declared, path.name, loaded_at)
        con.execute("COMMIT")
    except DeliveryRejected as problem:
        con.execute("ROLLBACK")
        result = DeliveryResult(delivery_id, source_file, sha, "rejected", str(problem))
        _record(con, member_id, profile.name, result, loaded_at, series, period)
    except _RUN_FAILURES:
        _rollback(con)
        raise
    except Exception as error:  # this file's problem: reject it, go on with the next
        con.execute("ROLLBACK")
        result = DeliveryResult(
            delivery_id,
            source_file,
            sha,
            "rejected",
            unexpected_error_message(path, error),
            detail=traceback.format_exc(),
        )
        _record(con, member_id, profile.name, result, loaded_at, series, period)
    except BaseException:
        _rollback(con)
        raise
    finally:
        for table in (STAGE, "_stage_checked", "_stage_org_numbers", "_stage_art_map"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return result


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back on the way out of a failure that stops the run; a connection that cannot
    even do that must not hide the failure itself."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


def unexpected_error_message(path: Path, error: BaseException) -> str:
    """One line for an error nobody foresaw: the file, the error's kind and first line."""
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    if len(text) > 300:
        text = text[:297] + "..."
    kind = type(error).__name__
    return (
        f"{path.name}: could not be loaded ({kind}{': ' + text if text else ''}); "
        "an unexpected error, this file alone is rejected"
    )


def _load_rows(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    member_id: str,
    profile: SourceProfile,
    country: str,
    rules: _RowRules,
    delivery: tuple[str, str, str, datetime],
    limits: Limits | None = None,
) -> DeliveryResult:
    """Read, check and insert every row of one file (inside the caller's transaction); the
    outcome to record: loaded, or rejected when no row loads."""
    delivery_id, source_file, sha, loaded_at = delivery
    header = _read_header(path, profile, limits)
    _check_columns(path, profile, header)
    expr = _Expressions(profile, header, member_id, rules)
    lines = LineReport() if profile.format == "csv" else None
    rows_read = _stage(con, path, profile, header, lines, limits)
    _stage_org_numbers(con, expr, country)
    _stage_art_mapping(con, profile, country)
    _insert_outcomes(con, expr, delivery_id, source_file, sha, loaded_at, country, path)
    loaded, amount = con.execute(
        "SELECT count(*), sum(amount_excl_vat) FROM raw.spend_lines WHERE delivery_id = ?",
        [delivery_id],
    ).fetchone()
    excluded = con.execute(
        "SELECT count(*) FROM raw.excluded_rows WHERE delivery_id = ?", [delivery_id]
    ).fetchone()[0]
    rejected = rows_read - loaded - excluded
    counts = ((excluded, "excluded"), (rejected, "rejected"))
    outcome = [f"{loaded} rows loaded"] + [f"{count} {what}" for count, what in counts if count]
    message = ", ".join(outcome)
    if lines is not None and lines.lines != lines.records:  # blank lines, quoted line breaks
        message += f" ({lines.describe()})"
    status = "loaded"
    if loaded == 0 and rejected:  # nothing of the file loads: a rejected delivery
        status, message = "rejected", _nothing_loads(con, path, delivery_id, rejected, excluded)
    return DeliveryResult(
        delivery_id,
        source_file,
        sha,
        status,
        message,
        rows_read,
        loaded,
        rejected,
        amount,
        rows_excluded=excluded,
    )


def _nothing_loads(
    con: duckdb.DuckDBPyConnection, path: Path, delivery_id: str, rejected: int, excluded: int
) -> str:
    """Why a file of which no row loads is rejected: its most frequent reason."""
    reason, count = con.execute(
        "SELECT reason, count(*) FROM raw.rejected_rows WHERE delivery_id = ? "
        "GROUP BY reason ORDER BY count(*) DESC, min(source_row) LIMIT 1",
        [delivery_id],
    ).fetchone()
    what = (
        f"every row is rejected ({rejected})"
        if not excluded
        else f"no row loads ({rejected} rejected, {excluded} excluded)"
    )
    return (
        f"{path.name}: {what}; most often: {reason} ({count} row{'s' if count != 1 else ''}). "
        "The rows are in rejected_rows; the member's earlier data stays"
    )
