"""Stand-alone tables for auditors, read from the published snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

FORMATS = ("csv", "parquet", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # one row of the sheet is the header


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


class ExportError(Exception):
    pass


def _query(table: ExportTable, municipality: str | None, year: int | None) -> tuple[str, list]:
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
    return f"SELECT * FROM marts.{table.mart}{where}", params


def export_table(
    snapshot: Path,
    name: str,
    fmt: str,
    out_dir: Path,
    municipality: str | None = None,
    year: int | None = None,
) -> tuple[Path, int]:
    """Write `out_dir/<name>.<fmt>`; return the path and the number of rows."""
    if name not in EXPORT_TABLES:
        raise ExportError(f"unknown table {name!r}; tables: {', '.join(EXPORT_TABLES)}")
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    if not snapshot.is_file():
        raise ExportError(f"no published snapshot at {snapshot}: run `samkjop run` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.{fmt}"
    sql, params = _query(EXPORT_TABLES[name], municipality, year)
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        rows = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
        if fmt == "xlsx":
            _write_xlsx(con, sql, params, target, rows)
        else:
            options = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet"
            con.execute(f"COPY ({_bind(sql, params)}) TO '{_escaped(target)}' ({options})")
    finally:
        con.close()
    return target, rows


def _escaped(path: Path) -> str:
    return str(path).replace("'", "''")


def _bind(sql: str, params: list) -> str:
    """COPY takes no parameters: inline the (validated) values as SQL literals."""
    for value in params:
        text = str(value).replace("'", "''")
        literal = text if isinstance(value, int) else f"'{text}'"
        sql = sql.replace("?", literal, 1)
    return sql


def _write_xlsx(
    con: duckdb.DuckDBPyConnection, sql: str, params: list, target: Path, rows: int
) -> None:
    from openpyxl import Workbook

    if rows > XLSX_MAX_ROWS:
        raise ExportError(
            f"{rows} rows do not fit in an Excel sheet ({XLSX_MAX_ROWS} at most): "
            "export as csv or parquet, or filter with --municipality / --year"
        )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(target.stem[:31])
    result = con.execute(sql, params)
    sheet.append([column[0] for column in result.description])
    while batch := result.fetchmany(10_000):
        for row in batch:
            sheet.append(list(row))
    workbook.save(target)
