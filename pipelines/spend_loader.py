"""Load one spend delivery into the warehouse: every row loaded or rejected with its reason.

The reader streams text batches into a staging table; one SQL statement per outcome
then casts and checks every row. Row-level problems (a bad amount, an impossible
date, a missing required value) send the row to `raw.rejected_rows`; file-level
problems reject the delivery whole and leave the member's earlier data untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from pipelines.orgno import clean_org_no
from pipelines.profiles import REQUIRED_FIELDS, SourceProfile
from pipelines.settings import DeclaredPeriod
from pipelines.sources import FOLDER_FORMATS, DeliveryRejected, reader_for
from pipelines.sources.csv_file import CsvHeader

STAGE = "_stage_spend"


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
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


class _Expressions:
    """SQL expressions that turn a profile's source columns into the standard fields."""

    def __init__(self, profile: SourceProfile, header: CsvHeader, member_id: str, currency: str):
        self.profile = profile
        self.header = header
        self.member_id = member_id
        self.default_currency = profile.currency or currency

    def column(self, name: str) -> str:
        return f"nullif(trim(c{self.header.index(name)}), '')"

    def field(self, name: str) -> str:
        source = self.profile.fields.get(name)
        if source is None:
            return "NULL"
        if source.constant is not None:
            return _sql_text(source.constant)
        if source.concat:
            parts = ", ".join(self.column(c) for c in source.concat)
            return f"nullif(concat_ws({_sql_text(source.separator)}, {parts}), '')"
        if source.optional and source.column not in self.header.columns:
            return "NULL"
        return self.column(source.column)

    def art(self) -> str:
        rule = self.profile.art
        if rule.account_mapping:
            return "_art_map.art"
        if rule.column:
            return self.column(rule.column)
        if rule.account_start:
            return (
                f"nullif(substr({self.field('account')}, {rule.account_start}, "
                f"{rule.account_length}), '')"
            )
        return "NULL"

    def amount(self) -> str:
        """The amount excluding VAT: gross minus the VAT column where the source has one,
        negated where the sign column holds one of the profile's negative values."""
        rule = self.profile.amount
        amount = f"try_cast({self.number_text(self.field('amount_excl_vat'))} AS DECIMAL(18, 4))"
        if rule.vat_column:
            amount = f"({amount} - {self.vat()})"
        if rule.sign_column:
            negative = ", ".join(_sql_text(v.upper()) for v in rule.negative_values)
            amount = (
                f"(CASE WHEN upper({self.column(rule.sign_column)}) IN ({negative}) "
                f"THEN -1 ELSE 1 END * {amount})"
            )
        return amount

    def optional_number(self, name: str, scale: int) -> str:
        return f"try_cast({self.number_text(self.field(name))} AS DECIMAL(18, {scale}))"

    def vat(self) -> str:
        vat_text = self.number_text(self.column(self.profile.amount.vat_column))
        return f"coalesce(try_cast({vat_text} AS DECIMAL(18, 4)), 0)"

    def number_text(self, text: str) -> str:
        """A number as the source writes it, as text DuckDB can cast."""
        csv = self.profile.csv
        for removed in ([csv.thousands] if csv.thousands else []) + [" ", "\u00a0", "\u202f"]:
            text = f"replace({text}, {_sql_text(removed)}, '')"
        if csv.decimal != ".":
            text = f"replace({text}, {_sql_text(csv.decimal)}, '.')"
        return text

    def invoice_date(self) -> str:
        """The profile's formats in order, then ISO (what spreadsheets and XML give)."""
        formats = dict.fromkeys([*self.profile.csv.date_formats, "%Y-%m-%d"])
        parsed = ", ".join(
            f"try_strptime({self.field('invoice_date')}, {_sql_text(fmt)})" for fmt in formats
        )
        return f"cast(coalesce({parsed}) as date)"

    def currency(self) -> str:
        return f"upper(coalesce({self.field('currency')}, {_sql_text(self.default_currency)}))"

    def municipality(self) -> str:
        return f"coalesce({self.field('municipality_id')}, {_sql_text(self.member_id)})"

    def raw_row(self) -> str:
        pairs = ", ".join(f"{_sql_text(name)}, c{i}" for i, name in enumerate(self.header.columns))
        return f"coalesce(_raw_text, cast(json_object({pairs}) as varchar))"

    def rejection_reason(self) -> str:
        """The first problem of a row, in words an analyst understands; NULL when none."""
        checks = ["WHEN _parse_error IS NOT NULL THEN _parse_error"]
        for name in REQUIRED_FIELDS:
            checks.append(
                f"WHEN {self.field(name)} IS NULL THEN "
                f"{_sql_text('missing required value: ' + self._describe(name))}"
            )
        date_formats = " or ".join(self.profile.csv.date_formats)
        checks += self._vat_check()
        checks += [
            f"WHEN invoice_date IS NULL THEN 'invoice_date ' || {self._quoted('invoice_date')}"
            f" || ' is not a valid date ({date_formats})'",
            "WHEN year(invoice_date) NOT BETWEEN 1990 AND 2100 THEN 'invoice_date ' || "
            f"{self._quoted('invoice_date')} || ' is not a plausible invoice date'",
            f"WHEN amount_excl_vat IS NULL THEN 'amount_excl_vat ' || "
            f"{self._quoted('amount_excl_vat')} || "
            f"{_sql_text(f' is not a number (decimal separator {self.profile.csv.decimal})')}",
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
        return [
            f"WHEN {self.field(name)} IS NOT NULL AND {name} IS NULL THEN "
            f"'{name} ' || {self._quoted(name)} || {decimal}"
            for name in ("quantity", "unit_price")
        ]

    def _vat_check(self) -> list[str]:
        if not self.profile.amount.vat_column:
            return []
        vat = self.column(self.profile.amount.vat_column)
        problem = _sql_text(f"VAT (column {self.profile.amount.vat_column!r}) is not a number")
        return [
            f"WHEN {vat} IS NOT NULL AND "
            f"try_cast({self.number_text(vat)} AS DECIMAL(18, 4)) IS NULL THEN {problem}"
        ]

    def _describe(self, name: str) -> str:
        source = self.profile.fields[name]
        return f"{name} (column {source.column!r})" if source.column else name

    def _quoted(self, name: str) -> str:
        return f"'''' || coalesce({self.field(name)}, '') || ''''"


def _check_columns(path: Path, profile: SourceProfile, header: CsvHeader) -> None:
    missing = [c for c in profile.source_columns() if c not in header.columns]
    if missing:
        raise DeliveryRejected(
            f"{path.name}: missing required column {missing[0]!r} "
            f"(profile {profile.name!r}); the header has: {', '.join(header.columns)}"
        )
    duplicated = [c for c in profile.source_columns() if header.columns.count(c) > 1]
    if duplicated:
        raise DeliveryRejected(f"{path.name}: column {duplicated[0]!r} appears twice")


def _stage(
    con: duckdb.DuckDBPyConnection, path: Path, profile: SourceProfile, header: CsvHeader
) -> int:
    columns = ", ".join(f"c{i} VARCHAR" for i in range(len(header.columns)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {STAGE} ({columns}, _source_row BIGINT, "
        "_parse_error VARCHAR, _raw_text VARCHAR)"
    )
    rows = 0
    for batch in reader_for(profile.format).iter_batches(path, profile, header):
        con.register("_batch", batch)
        con.execute(f"INSERT INTO {STAGE} SELECT * FROM _batch")
        con.unregister("_batch")
        rows += batch.num_rows
    if rows == 0:
        raise DeliveryRejected(f"{path.name}: the file has a header but no data rows")
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


def _stage_art_mapping(con: duckdb.DuckDBPyConnection, profile: SourceProfile) -> None:
    pairs = profile.art.account_mapping
    table = pa.table(
        {
            "account": pa.array([a for a, _ in pairs], pa.string()),
            "art": pa.array([b for _, b in pairs], pa.string()),
        }
    )
    con.register("_art_pairs", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _stage_art_map AS SELECT * FROM _art_pairs")
    con.unregister("_art_pairs")


def _read_header(path: Path, profile: SourceProfile) -> CsvHeader:
    if path.is_dir() and profile.format not in FOLDER_FORMATS:
        raise DeliveryRejected(
            f"{path.name}: is a folder, but profile {profile.name!r} reads {profile.format} files"
        )
    return reader_for(profile.format).read_header(path, profile)


def _checked_rows_sql(expr: _Expressions) -> str:
    return f"""
        WITH typed AS (
            SELECT
                *,
                {expr.municipality()} AS municipality_id,
                {expr.invoice_date()} AS invoice_date,
                {expr.amount()} AS amount_excl_vat,
                {expr.currency()} AS currency,
                {expr.optional_number("quantity", 4)} AS quantity,
                {expr.optional_number("unit_price", 6)} AS unit_price
            FROM {STAGE}
        )
        SELECT *, {expr.rejection_reason()} AS _reason FROM typed
    """


def _insert_outcomes(
    con: duckdb.DuckDBPyConnection,
    expr: _Expressions,
    delivery_id: str,
    source_file: str,
    sha: str,
    loaded_at: datetime,
    country: str,
) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_checked AS {_checked_rows_sql(expr)}")
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
            s.quantity, s.unit_price, {expr.field("local_supplier_id")}
        FROM _stage_checked AS s
        LEFT JOIN _stage_org_numbers AS o ON o.original = {expr.field("supplier_org_no")}
        LEFT JOIN _stage_art_map AS _art_map ON _art_map.account = {expr.field("account")}
        WHERE s._reason IS NULL
        """,
        [delivery_id, country, source_file, sha, loaded_at],
    )
    con.execute(
        f"""
        INSERT INTO raw.rejected_rows
        SELECT ?, {_sql_text(expr.member_id)}, ?, _source_row, _reason, {expr.raw_row()}, ?
        FROM _stage_checked WHERE _reason IS NOT NULL
        """,
        [delivery_id, source_file, loaded_at],
    )


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
    for table in ("deliveries", "spend_lines", "rejected_rows", "excluded_rows"):
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


def load_spend_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    member_id: str,
    profile: SourceProfile,
    cooperation_country: str,
    cooperation_currency: str,
    declared: DeclaredPeriod | None = None,
    sha: str | None = None,
) -> DeliveryResult:
    """Load one delivered file for one member. Idempotent: a file already recorded is not
    loaded again; a file rejected before is tried again (its profile may have been fixed).
    With a declared period, the delivery replaces the member's earlier deliveries of the
    same series and period."""
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
    country = profile.country or cooperation_country
    con.execute("BEGIN TRANSACTION")
    try:
        header = _read_header(path, profile)
        _check_columns(path, profile, header)
        expr = _Expressions(profile, header, member_id, cooperation_currency)
        rows_read = _stage(con, path, profile, header)
        _stage_org_numbers(con, expr, country)
        _stage_art_mapping(con, profile)
        _insert_outcomes(con, expr, delivery_id, source_file, sha, loaded_at, country)
        loaded, amount = con.execute(
            "SELECT count(*), sum(amount_excl_vat) FROM raw.spend_lines WHERE delivery_id = ?",
            [delivery_id],
        ).fetchone()
        rejected = rows_read - loaded
        result = DeliveryResult(
            delivery_id,
            source_file,
            sha,
            "loaded",
            f"{loaded} rows loaded, {rejected} rejected" if rejected else f"{loaded} rows loaded",
            rows_read,
            loaded,
            rejected,
            amount,
        )
        _record(con, member_id, profile.name, result, loaded_at, series, period)
        if declared is not None and loaded:
            _replace_earlier_deliveries(con, member_id, delivery_id, declared, path.name, loaded_at)
        con.execute("COMMIT")
    except DeliveryRejected as problem:
        con.execute("ROLLBACK")
        result = DeliveryResult(delivery_id, source_file, sha, "rejected", str(problem))
        _record(con, member_id, profile.name, result, loaded_at, series, period)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for table in (STAGE, "_stage_checked", "_stage_org_numbers", "_stage_art_map"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return result
