"""Stand-alone tables for auditors, read from the published snapshot.

Every export has a fixed row order (ORDERS, then every column left to right), so the same
snapshot gives byte-identical files. An XLSX (pipelines/export_xlsx.py) carries its own
Definitions and About sheets; a CSV or Parquet file gets the same provenance in a sidecar
`<table>.manifest.json` (Parquet also in its key-value metadata). Text a spreadsheet would
evaluate is never a formula (FORMULA_TRIGGERS: OWASP "CSV Injection"). `export_bytes` is
what the dashboards' downloads call; pipelines/audit_bundle.py writes every audit table
into one zip with its checksums."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb

from dashboards.i18n import LANGUAGES, default_language
from pipelines.export_catalogue import Column
from pipelines.export_catalogue import column as catalogue_column
from pipelines.export_xlsx import write_xlsx
from pipelines.orgno import PERSONAL_ID_MASK, mask_personal_id_numbers
from pipelines.settings import PROJECT_ROOT
from pipelines.warehouse import MEMORY_ENV_VAR

FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # one row of the sheet is the header
# OWASP "CSV Injection": a cell that begins with one of these is evaluated by Excel or
# LibreOffice. XLSX: written as a text cell (never a formula); CSV: prefixed with a quote.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_NEUTRALISER = "'"


# --year on a table without a year: the rows of deliveries whose invoice dates span that year
_DELIVERY_IN_YEAR = (
    "delivery_id IN (SELECT delivery_id FROM marts.delivery_reconciliation "
    "WHERE year(first_invoice_date) <= ? AND year(last_invoice_date) >= ?)"
)


@dataclass(frozen=True)
class ExportTable:
    mart: str
    year_column: str | None
    description: str
    per_municipality: bool = True  # has a municipality_id column for --municipality

    def year_condition(self) -> tuple[str, int]:
        """The SQL condition for --year and how many times it takes the year."""
        if self.year_column:
            return f"{self.year_column} = ?", 1
        return _DELIVERY_IN_YEAR, 2


EXPORT_TABLES: dict[str, ExportTable] = {
    "municipality_kpis": ExportTable(
        "municipality_kpis",
        "year",
        "coverage, loyalty and their amounts per member (and ALL) and year",
    ),
    "category_kpis": ExportTable(
        "category_kpis", "year", "coverage and loyalty per member (and ALL), year and category"
    ),
    "spend_lines": ExportTable(
        "fct_spend_lines",
        "year",
        "every loaded spend line with its flags, category and the rule that decided it",
    ),
    "threshold_flags": ExportTable(
        "threshold_flags",
        "year(month_end)",
        "per member, supplier and category: the month ends where the trailing 12 months of "
        "influenceable spend not on agreement crossed a procurement threshold",
    ),
    "suppliers": ExportTable(
        "suppliers",
        "year",
        "per supplier and year: spend, members buying, categories, agreements held, "
        "share on agreement",
        per_municipality=False,
    ),
    "off_agreement_purchases": ExportTable(
        "off_agreement_purchases",
        "year",
        "purchases outside agreements per member, department, supplier and category, "
        "with the agreements that should have been used",
    ),
    "possible_duplicate_invoices": ExportTable(
        "possible_duplicate_invoices",
        "year(first_invoice_date)",
        "pairs of invoices per member and supplier that may be paid twice: the same invoice "
        "id delivered twice, or the same amount within a few days under another invoice id",
    ),
    "possible_duplicate_payees": ExportTable(
        "possible_duplicate_payees",
        "year",
        "per member, payee and year: payees not paired in possible_duplicate_invoices (no "
        "supplier identity, a catch-all payee, more possible pairs than the cap), with invoices, "
        "amount and pair count",
    ),
    "agreement_followup": ExportTable(
        "agreement_followup",
        "year",
        "per agreement, year and member (and ALL): spend on it and in its categories, "
        "loyalty, utilisation of the estimated volume, provision, expiry and spend at stake",
    ),
    "classification_coverage": ExportTable(
        "classification_coverage",
        "year",
        "per member (and ALL) and year: influenceable spend by the rule type that decided its "
        "category (item code, supplier, art, unclassified), shares and line counts",
    ),
    "climate_estimate": ExportTable(
        "climate_estimate",
        "year",
        "per member (and ALL), year and category: spend-based CO2e estimate with the factor, "
        "its source and whether it is illustrative",
    ),
    "per_capita": ExportTable(
        "per_capita",
        "year",
        "per member (and ALL) and year: total, influenceable and off-agreement spend per "
        "inhabitant",
    ),
    "price_deviations": ExportTable(
        "price_deviations",
        "year(invoice_date)",
        "invoice lines whose unit price is above (or below) the agreed price-list price by "
        "more than the tolerance, with the excess paid",
    ),
    "unmapped_codes": ExportTable(
        "unmapped_codes",
        "year",
        "per member, year and local account code: lines whose KOSTRA art is missing or "
        "unknown (not influenceable), their spend and share of the member's total spend",
    ),
    "data_completeness": ExportTable(
        "data_completeness",
        "year",
        "per member (and ALL) and year: months with spend, whether the year is complete, "
        "and the year summaries show by default",
    ),
    "rejected_rows": ExportTable(
        "rejected_rows", None, "every delivered row that was not loaded, with its reason"
    ),
    "excluded_rows": ExportTable(
        "excluded_rows",
        None,
        "every delivered row a source profile's exclude_rows left out (income, balance "
        "sheet ...), with its reason and amount: not spend, never lost",
    ),
    "delivery_reconciliation": ExportTable(
        "delivery_reconciliation",
        None,
        "per delivery: checksum, rows read, loaded, rejected, excluded, amounts, status",
    ),
}


# --- Council views (issue 12 points 4 and 6) ------------------------------------------------
# The tables of the economy council's pages that list payees, downloadable in full with the
# page's filters. Each is the page's own query (a dashboards.queries *_view builder: one SQL
# for the page and the download, the privacy rule of dashboards.privacy in it), so private
# persons are one row named in the reader's language, never by name or number. Written by
# the same writer as the export tables (_write): Definitions and About sheets, the CSV
# formula rule, the manifest.


def _queries():
    """dashboards.queries, imported when a view is written (it imports Streamlit)."""
    from dashboards import queries

    return queries


@dataclass(frozen=True)
class CouncilView:
    builder: str  # the dashboards.queries function that returns its ViewQuery
    filters: tuple[str, ...]  # the builder's filters, in its order of arguments
    optional: tuple[str, ...]  # those that may be None (or '' for a search text)
    private_label: bool  # whether the builder names the private persons' row
    marts: tuple[str, ...]
    description: str

    def query(self, filters: dict[str, Any], private_label: str) -> Any:
        """The view's dashboards.queries.ViewQuery for `filters`."""
        build = getattr(_queries(), self.builder)
        arguments = [filters.get(name) for name in self.filters]
        return build(*arguments, private_label) if self.private_label else build(*arguments)


COUNCIL_VIEWS: dict[str, CouncilView] = {
    "member_suppliers": CouncilView(
        "member_suppliers_view",
        ("municipality", "year", "category"),
        ("category",),
        True,
        ("fct_spend_lines", "private_payees"),
        "a member's (ALL: every member's) suppliers in the year, optionally in one category: "
        "influenceable, covered, on-agreement and off-agreement spend; private persons "
        "together in one row, never named (Member and Categories pages)",
    ),
    "member_crossings": CouncilView(
        "member_crossings_view",
        ("municipality", "year"),
        (),
        True,
        ("threshold_flags", "dim_categories", "private_payees"),
        "a member's (ALL: every member's) threshold crossings in the year; a private "
        "person's crossing without the name (Member page)",
    ),
    "supplier_search": CouncilView(
        "search_suppliers_view",
        ("search", "year"),
        ("search",),
        False,
        ("suppliers", "private_payees"),
        "the suppliers of the year whose name or organisation number contains the search "
        "text, every one of them, the most spend first; private persons are never listed "
        "(Suppliers page)",
    ),
    "supplier_by_member": CouncilView(
        "supplier_by_member_view",
        ("supplier", "year"),
        (),
        False,
        ("fct_spend_lines", "dim_municipalities", "private_payees"),
        "one supplier's spend per member in the year (nothing for a private person) "
        "(Suppliers page)",
    ),
}


# GDPR (issue 12 point 6): a personal identity number (fødselsnummer, D-number, CPR number)
# delivered where an organisation number belongs is masked in every export except the
# auditor's line-level one. These are the columns that carry organisation numbers as
# delivered (the validated ones never hold one: it fails every organisation-number check),
# or texts that quote delivered values (a rejection's reason, a delivery's message);
# `_masking` applies pipelines.orgno.mask_personal_id_numbers to each of them.
PERSONAL_ID_COLUMNS = (
    "supplier_org_no_raw",
    "invalid_org_no_example",  # suppliers
    "agreement_suppliers",  # off_agreement_purchases: 'name (number as registered)'
    "raw_row",  # rejected_rows, excluded_rows: the delivered row, org-number field and all
    "reason",  # rejected_rows: names the field and the value as delivered
    "message",  # delivery_reconciliation: what the loader said, which may quote a value
)
UNMASKED_TABLES = ("spend_lines",)  # the auditor's line-level export keeps the number
MASK_FUNCTION = "samkjop_mask_personal_id_numbers"
MASK_NOTE = (
    f"A personal identity number (fødselsnummer, D-number, CPR number) in it is written as "
    f"{PERSONAL_ID_MASK}; only the auditor's line-level export spend_lines keeps it."
)


def register_mask_function(con: duckdb.DuckDBPyConnection) -> None:
    """Make MASK_FUNCTION (pipelines.orgno.mask_personal_id_numbers) callable in `con`'s
    SQL: the exports' masking, and the council views' (dashboards.queries) on a page and in
    its download."""
    registered = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [MASK_FUNCTION]
    ).fetchone()[0]
    if not registered:
        con.create_function(
            MASK_FUNCTION, mask_personal_id_numbers, ["VARCHAR"], "VARCHAR", side_effects=False
        )


def _masking(
    con: duckdb.DuckDBPyConnection, name: str, columns: list[Column]
) -> tuple[str, list[Column]]:
    """The select list of export `name` with PERSONAL_ID_COLUMNS masked (and MASK_NOTE
    added to their meaning, for the Definitions sheet and the manifest)."""
    masked = [
        c.name
        for c in columns
        if name not in UNMASKED_TABLES and c.name in PERSONAL_ID_COLUMNS and c.unit == "text"
    ]
    if not masked:
        return "*", columns
    register_mask_function(con)
    replaced = ", ".join(f"{MASK_FUNCTION}({_quoted(n)}) AS {_quoted(n)}" for n in masked)
    noted = [
        replace(c, meaning=f"{c.meaning} {MASK_NOTE}".strip()) if c.name in masked else c
        for c in columns
    ]
    return f"* REPLACE ({replaced})", noted


# the row order of each export (then every other column, left to right); a column a table
# does not have is skipped
ORDERS: dict[str, tuple[str, ...]] = {
    "spend_lines": ("municipality_id", "invoice_date", "invoice_id", "spend_line_key"),
    "threshold_flags": ("municipality_id", "month_end", "supplier_key", "category_id"),
    "possible_duplicate_invoices": ("municipality_id", "first_invoice_date"),
    "price_deviations": ("municipality_id", "invoice_date", "invoice_id"),
    "rejected_rows": ("municipality_id", "source_file", "source_line", "source_row"),
    "excluded_rows": ("municipality_id", "source_file", "source_line", "source_row"),
    "delivery_reconciliation": ("municipality_id", "loaded_at", "source_file"),
}
DEFAULT_ORDER = ("municipality_id", "year")


class ExportError(Exception):
    pass


class EmptyExport(ExportError):
    """No row matches the filters (and --allow-empty was not given)."""


@dataclass(frozen=True)
class SnapshotFacts:
    """Where an export comes from: the snapshot file and the run that published it."""

    path: Path
    sha256: str
    published_at: datetime | None
    run_id: str | None
    config_sha256: str | None
    platform_version: str | None  # of the run that published the snapshot
    cooperation: str
    country: str
    currency: str

    def as_dict(self) -> dict[str, str | None]:
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "published_at": self.published_at.isoformat(sep=" ", timespec="seconds")
            if self.published_at
            else None,
            "run_id": self.run_id,
            "config_sha256": self.config_sha256,
            "platform_version": self.platform_version,
        }

    @property
    def created(self) -> datetime:
        """The files' fixed creation date (the same snapshot: the same bytes)."""
        return (self.published_at or datetime(2000, 1, 1)).replace(microsecond=0)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    manifest: dict[str, Any]


def platform_version() -> str:
    """This installation's version: the package version and, in a git checkout, its commit."""
    try:
        version = metadata.version("samkjop")
    except metadata.PackageNotFoundError:
        version = "unknown"
    head = PROJECT_ROOT / ".git" / "HEAD"
    try:
        ref = head.read_text(encoding="utf-8").strip()
        if ref.startswith("ref: "):
            ref = (PROJECT_ROOT / ".git" / ref[5:]).read_text(encoding="utf-8").strip()
        return f"samkjop {version} (commit {ref[:12]})"
    except OSError:
        return f"samkjop {version}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_SNAPSHOT_SHA: dict[tuple[str, int, int], str] = {}


def _snapshot_sha256(path: Path) -> str:
    """The snapshot's checksum, computed once per file version in this process."""
    status = path.stat()
    key = (str(path), status.st_size, status.st_mtime_ns)
    if key not in _SNAPSHOT_SHA:
        _SNAPSHOT_SHA[key] = file_sha256(path)
    return _SNAPSHOT_SHA[key]


def snapshot_facts(con: duckdb.DuckDBPyConnection, snapshot: Path) -> SnapshotFacts:
    info = _first_row(con, "marts.snapshot_info")
    coop = _first_row(con, "marts.cooperation")
    return SnapshotFacts(
        path=snapshot,
        sha256=_snapshot_sha256(snapshot),
        published_at=info.get("published_at"),
        run_id=info.get("run_id"),
        config_sha256=info.get("config_sha256"),
        platform_version=info.get("platform_version"),
        cooperation=str(coop.get("cooperation_name") or ""),
        country=str(coop.get("country") or ""),
        currency=str(coop.get("currency") or ""),
    )


def _first_row(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    try:
        result = con.execute(f"SELECT * FROM {table} LIMIT 1")
    except duckdb.Error:  # a snapshot of an earlier version: what it has not, is not said
        return {}
    row = result.fetchone()
    return dict(zip([c[0] for c in result.description], row, strict=True)) if row else {}


def _columns(con: duckdb.DuckDBPyConnection, table: ExportTable) -> list[Column]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'marts' AND table_name = ? ORDER BY ordinal_position",
        [table.mart],
    ).fetchall()
    if not rows:
        raise ExportError(f"the snapshot has no table marts.{table.mart}: run `samkjop run`")
    return [catalogue_column(table.mart, name, data_type) for name, data_type in rows]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _filters(table: ExportTable, municipality: str | None, year: int | None):
    conditions, params = [], []
    if municipality and not table.per_municipality:
        raise ExportError(
            f"table {table.mart!r} is not per municipality: export it without --municipality"
        )
    if municipality:
        conditions.append("municipality_id = ?")
        params.append(municipality)
    if year is not None:
        condition, uses = table.year_condition()
        conditions.append(condition)
        params += [year] * uses
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return where, params


def _order_by(name: str, columns: list[Column]) -> str:
    names = [c.name for c in columns]
    keys = [key for key in ORDERS.get(name, DEFAULT_ORDER) if key in names]
    keys += [column for column in names if column not in keys]
    return ", ".join(f"{_quoted(key)} NULLS LAST" for key in keys)


def _control_totals(
    con: duckdb.DuckDBPyConnection, source: str, params: list, columns: list[Column]
) -> dict[str, str]:
    """The sum of every amount column, as exact decimal text."""
    amounts = [c.name for c in columns if c.unit == "amount"]
    if not amounts:
        return {}
    sums = ", ".join(f"CAST(sum({_quoted(name)}) AS VARCHAR)" for name in amounts)
    values = con.execute(f"SELECT {sums} FROM {source}", params).fetchone()
    return {name: value for name, value in zip(amounts, values, strict=True) if value is not None}


def _check_arguments(name: str, fmt: str, snapshot: Path) -> ExportTable:
    if name not in EXPORT_TABLES:
        raise ExportError(f"unknown table {name!r}; tables: {', '.join(EXPORT_TABLES)}")
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if not snapshot.is_file():
        raise ExportError(f"no published snapshot at {snapshot}: run `samkjop run` first")
    return EXPORT_TABLES[name]


def describe_filters(municipality: str | None, year: int | None) -> str:
    parts = [f"--municipality {municipality}" if municipality else "every member"]
    parts.append(f"--year {year}" if year is not None else "every year")
    return ", ".join(parts)


@dataclass(frozen=True)
class _Source:
    """What one export writes: an export table's rows or a council view's."""

    name: str
    mart: str  # where the rows come from, for the manifest and the About sheet
    description: str
    columns: list[Column]
    sql: str  # "(SELECT ...) AS exported"
    params: list
    order: str
    filters: dict[str, Any]


def write_export(
    con: duckdb.DuckDBPyConnection,
    facts: SnapshotFacts,
    name: str,
    fmt: str,
    target: Path,
    municipality: str | None = None,
    year: int | None = None,
    language: str | None = None,
    allow_empty: bool = False,
    sidecar: bool = True,
) -> ExportResult:
    """Write table `name` in `fmt` to `target` from the open snapshot; a CSV or Parquet file
    gets `<name>.manifest.json` beside it unless `sidecar` is false (the bundle has one
    manifest for all)."""
    table = _check_arguments(name, fmt, facts.path)
    select, columns = _masking(con, name, _columns(con, table))
    where, params = _filters(table, municipality, year)
    source = _Source(
        name=name,
        mart=f"marts.{table.mart}",
        description=table.description,
        columns=columns,
        sql=f"(SELECT {select} FROM marts.{table.mart}{where}) AS exported",
        params=params,
        order=_order_by(name, columns),
        filters={"municipality": municipality, "year": year},
    )
    return _write(con, facts, source, fmt, target, language, allow_empty, sidecar)


def _write(
    con: duckdb.DuckDBPyConnection,
    facts: SnapshotFacts,
    source: _Source,
    fmt: str,
    target: Path,
    language: str | None,
    allow_empty: bool,
    sidecar: bool,
) -> ExportResult:
    """Write `source` in `fmt` to `target`: the one writer of tables and council views."""
    name, columns, params = source.name, source.columns, source.params
    language = language or default_language(facts.country)
    if language not in LANGUAGES:
        raise ExportError(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
    rows = con.execute(f"SELECT count(*) FROM {source.sql}", params).fetchone()[0]
    if rows == 0 and not allow_empty:
        raise EmptyExport(
            f"{name}: no rows match {_describe(source.filters)} in snapshot "
            f"{facts.path}: nothing written (--allow-empty writes the empty file)"
        )
    if fmt == "xlsx" and rows > XLSX_MAX_ROWS:
        raise ExportError(
            f"{name}: {rows:,} rows do not fit in an Excel sheet ({XLSX_MAX_ROWS:,} rows at most "
            "below the header): export --format parquet (or csv), or the audit bundle "
            "(`samkjop export --bundle FILE.zip --year YYYY`, which holds every table as "
            "Parquet), or filter with --municipality / --year"
        )
    order = source.order
    manifest: dict[str, Any] = {
        "table": name,
        "mart": source.mart,
        "description": source.description,
        "format": fmt,
        "rows": rows,
        "filters": source.filters,
        "order": [_order_key(part) for part in order.split(", ")],
        "control_totals": _control_totals(con, source.sql, params, columns),
        "cooperation": facts.cooperation,
        "currency": facts.currency,
        "language": language,
        "snapshot": facts.as_dict(),
        "exported_by": platform_version(),
        "formula_rule": FORMULA_RULES[fmt],
        "columns": [
            {
                "name": c.name,
                "label": c.label(language),
                "unit": c.unit_words(facts.currency),
                "meaning": c.meaning,
                "rule": c.rule,
            }
            for c in columns
        ],
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if fmt == "xlsx":
        write_xlsx(
            target, con, (source.sql, params), order, rows, columns, facts, manifest, language
        )
    else:
        _copy(con, source.sql, params, columns, order, target, fmt, manifest)
    manifest = {"file": target.name, "sha256": file_sha256(target), **manifest}
    if sidecar and fmt != "xlsx":
        write_manifest(target.with_name(f"{name}.manifest.json"), manifest)
    return ExportResult(target, rows, manifest)


def _order_key(term: str) -> str:
    """A column of the ORDER BY as the manifest says it: its name, and ' desc' when
    descending (a council view's order; the tables' are ascending)."""
    words = term.split()
    return words[0].strip('"') + (" desc" if "DESC" in words[1:] else "")


def _describe(filters: dict[str, Any]) -> str:
    """The filters as an error message says them (--municipality X, --year Y ...)."""
    if set(filters) == {"municipality", "year"}:
        return describe_filters(filters["municipality"], filters["year"])
    return ", ".join(f"{key} {value!r}" for key, value in filters.items())


FORMULA_RULES = {
    "xlsx": "every text is a text cell, never a formula (cells that begin with =, +, -, @, "
    "tab or carriage return stay text); control characters are written as \\uXXXX; a text "
    "longer than a cell holds (32 767 characters) is cut and ends with a note saying so",
    "csv": "a text that begins with =, +, -, @, tab or carriage return is prefixed with a "
    "single quote (OWASP CSV Injection), so that no spreadsheet evaluates it; numbers are "
    "never prefixed",
    "parquet": "values as in the snapshot (Parquet has no formulas)",
}


def _neutralised(column: Column) -> str:
    name = _quoted(column.name)
    if column.unit != "text":
        return name
    triggers = ", ".join(
        "chr(9)" if c == "\t" else "chr(13)" if c == "\r" else f"'{c}'" for c in FORMULA_TRIGGERS
    )
    return (
        f"CASE WHEN left({name}, 1) IN ({triggers}) THEN {_literal(CSV_NEUTRALISER)} || {name} "
        f"ELSE {name} END AS {name}"
    )


def _copy(
    con: duckdb.DuckDBPyConnection,
    source: str,
    params: list,
    columns: list[Column],
    order: str,
    target: Path,
    fmt: str,
    manifest: dict[str, Any],
) -> None:
    if fmt == "csv":
        select = ", ".join(_neutralised(c) for c in columns)
        options = "FORMAT csv, HEADER true"
    else:
        select = "*"
        provenance = json.dumps(manifest, ensure_ascii=False, sort_keys=True, default=str)
        options = f"FORMAT parquet, KV_METADATA {{samkjop_provenance: {_literal(provenance)}}}"
    sql = f"SELECT {select} FROM {source} ORDER BY {order}"
    con.execute(f"COPY ({_bind(sql, params)}) TO {_literal(str(target))} ({options})")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n",
        encoding="utf-8",
    )


def _bind(sql: str, params: list) -> str:
    """COPY takes no parameters: inline the (validated) values as SQL literals; None is
    NULL, a number or a truth value as itself, anything else a quoted text."""
    parts = sql.split("?")
    if len(parts) != len(params) + 1:
        raise ExportError(f"{len(parts) - 1} placeholders for {len(params)} values in {sql}")
    bound = [parts[0]]
    for value, part in zip(params, parts[1:], strict=True):
        if value is None:
            literal = "NULL"
        elif isinstance(value, bool):
            literal = "true" if value else "false"
        elif isinstance(value, int):
            literal = str(value)
        else:
            literal = _literal(str(value))
        bound += [literal, part]
    return "".join(bound)


# DuckDB's memory while an export sorts its rows (beyond: it spills to a temporary folder)
EXPORT_MEMORY = "512MB"


def open_snapshot(snapshot: Path) -> duckdb.DuckDBPyConnection:
    if not snapshot.is_file():
        raise ExportError(f"no published snapshot at {snapshot}: run `samkjop run` first")
    return duckdb.connect(
        str(snapshot),
        read_only=True,
        config={
            "memory_limit": os.environ.get(MEMORY_ENV_VAR, EXPORT_MEMORY),
            "temp_directory": tempfile.gettempdir(),
        },
    )


def export_table(
    snapshot: Path,
    name: str,
    fmt: str,
    out_dir: Path,
    municipality: str | None = None,
    year: int | None = None,
    language: str | None = None,
    allow_empty: bool = False,
) -> tuple[Path, int]:
    """Write `out_dir/<name>.<fmt>` (and, for csv and parquet, `<name>.manifest.json`);
    return the path and the number of rows."""
    _check_arguments(name, fmt, snapshot)
    con = open_snapshot(snapshot)
    try:
        facts = snapshot_facts(con, snapshot)
        result = write_export(
            con,
            facts,
            name,
            fmt,
            out_dir / f"{name}.{fmt}",
            municipality,
            year,
            language,
            allow_empty,
        )
    finally:
        con.close()
    return result.path, result.rows


def export_bytes(
    snapshot: Path,
    table: str,
    fmt: str,
    municipality: str | None = None,
    year: int | None = None,
    language: str | None = None,
) -> tuple[str, bytes]:
    """(file name, content) of export `table` in `fmt` (csv, parquet or xlsx) for the
    dashboards' downloads: the same file `samkjop export` writes (an empty table gives a
    file with its header). The name says the filters: `<table>[_<member>][_<year>].<fmt>`."""
    _check_arguments(table, fmt, Path(snapshot))
    suffix = "" if municipality is None else f"_{municipality}"
    suffix += "" if year is None else f"_{year}"
    filename = f"{table}{suffix}.{fmt}"

    def write(con, facts, target: Path) -> ExportResult:
        return write_export(
            con,
            facts,
            table,
            fmt,
            target,
            municipality,
            year,
            language,
            allow_empty=True,
            sidecar=False,
        )

    result, content = _written_bytes(Path(snapshot), f"{table}.{fmt}", write)
    return filename, content


def _written_bytes(snapshot: Path, file_name: str, write) -> tuple[ExportResult, bytes]:
    """`write(con, facts, target)` run on the open snapshot into a temporary `file_name`:
    its result and the file's bytes (the dashboards' downloads)."""
    with tempfile.TemporaryDirectory(prefix="samkjop-export-") as folder:
        con = open_snapshot(snapshot)
        try:
            result = write(con, snapshot_facts(con, snapshot), Path(folder) / file_name)
        finally:
            con.close()
        return result, result.path.read_bytes()


VIEW_TABLE = "temp.main.samkjop_council_view"  # the view's rows, in the export's connection


def _view_source(
    con: duckdb.DuckDBPyConnection, name: str, filters: dict[str, Any], language: str
) -> _Source:
    """Council view `name` with `filters` as an export source: the page's SQL, private
    persons named in `language`, masked like every export, in the page's order."""
    from dashboards.i18n import translate

    if name not in COUNCIL_VIEWS:
        raise ExportError(f"unknown council view {name!r}; views: {', '.join(COUNCIL_VIEWS)}")
    view = COUNCIL_VIEWS[name]
    unknown = sorted(set(filters) - set(view.filters))
    if unknown:
        raise ExportError(
            f"council view {name!r} has no filter {', '.join(unknown)}; its filters: "
            f"{', '.join(view.filters)}"
        )
    missing = [f for f in view.filters if f not in view.optional and filters.get(f) in (None, "")]
    if missing:
        raise ExportError(f"council view {name!r} needs the filter {', '.join(missing)}")
    shown = {f: filters.get(f, "" if f == "search" else None) for f in view.filters}
    query = view.query(shown, translate("common.private_persons", language))
    register_mask_function(con)  # the view masks the delivered names it shows
    # its rows are few (grouped): computed once, then counted, summed and written
    con.execute(f"CREATE OR REPLACE TEMP TABLE {VIEW_TABLE} AS {query.sql}", list(query.params))
    described = con.execute(f"DESCRIBE {VIEW_TABLE}").fetchall()
    columns = [catalogue_column(name, row[0], row[1], view.marts[0]) for row in described]
    select, columns = _masking(con, name, columns)
    names = [c.name for c in columns]
    terms = [
        f"{_quoted(t.split()[0])} {' '.join(t.split()[1:]).upper()}".strip() for t in query.order
    ]
    keys = [t.split()[0].strip('"') for t in terms]
    terms += [_quoted(c) for c in names if c not in keys]
    return _Source(
        name=name,
        mart=", ".join(f"marts.{m}" for m in view.marts),
        description=view.description,
        columns=columns,
        sql=f"(SELECT {select} FROM {VIEW_TABLE}) AS exported",
        params=[],
        order=", ".join(f"{term} NULLS LAST" for term in terms),
        filters=shown,
    )


def write_view(
    con: duckdb.DuckDBPyConnection,
    facts: SnapshotFacts,
    name: str,
    fmt: str,
    target: Path,
    filters: dict[str, Any],
    language: str | None = None,
    allow_empty: bool = True,
    sidecar: bool = True,
) -> ExportResult:
    """Write council view `name` (COUNCIL_VIEWS) with the page's `filters` in `fmt` to
    `target` from the open snapshot: every row of the view, by the writer of the exports."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    language = language or default_language(facts.country)
    if language not in LANGUAGES:
        raise ExportError(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
    source = _view_source(con, name, filters, language)
    return _write(con, facts, source, fmt, target, language, allow_empty, sidecar)


def view_file_name(name: str, fmt: str, filters: dict[str, Any]) -> str:
    """`<view>_<filter values>.<fmt>`: member, year, category, supplier, search text (letters,
    digits and '-' only)."""
    parts = [name]
    for value in filters.values():
        if value in (None, "", "ALL"):
            continue
        text = "".join(c if c.isalnum() or c == "-" else "-" for c in str(value)).strip("-")
        if text:
            parts.append(text[:40])
    return "_".join(parts) + f".{fmt}"


def export_view_bytes(
    snapshot: Path,
    name: str,
    fmt: str,
    filters: dict[str, Any],
    language: str | None = None,
) -> tuple[str, bytes]:
    """(file name, content) of council view `name` with `filters` in `fmt`, for the council
    pages' downloads (an empty view gives a file with its header)."""

    def write(con, facts, target: Path) -> ExportResult:
        return write_view(con, facts, name, fmt, target, filters, language, sidecar=False)

    result, content = _written_bytes(Path(snapshot), f"{name}.{fmt}", write)
    return view_file_name(name, fmt, result.manifest["filters"]), content
