"""The DuckDB warehouse: the raw schema the loaders write and dbt reads.

The `raw` schema is the contract between ingestion (Python) and the dbt project:
dbt's `sources.yml` lists exactly these tables. Amounts are DECIMAL, never float.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

AMOUNT = "DECIMAL(18, 4)"  # one line's amount (the loader rejects larger ones)
# a sum of lines' amounts: wide enough for any number of lines of the largest amount
TOTAL = "DECIMAL(38, 4)"
MEMORY_ENV_VAR = "SAMKJOP_DUCKDB_MEMORY"  # also read by dbt_project/profiles.yml
# DuckDB folds its write-ahead log into the file once the log passes this size (16 MB by
# default), and when the connection closes. The loader commits once per file; with the
# default, the checkpoints in between made a 1 M-line demo's ingestion take 36 s, not 30 s.
CHECKPOINT_THRESHOLD = "1GB"
# raw.spend_lines.spend_line_key, the integer line id dbt joins and tests on (the text
# spend_line_id = delivery_id || '-' || source_row stays the lineage users see): a loaded
# delivery draws one number from this sequence, and each of its lines gets
# number * ROWS_PER_DELIVERY + source_row. Unique across the warehouse, and fixed once a
# line is loaded: a re-delivery, a retry or a failed run draws a new number (a sequence
# never gives a number twice, even to a transaction that is rolled back).
DELIVERY_NUMBERS = "raw.spend_delivery_numbers"
ROWS_PER_DELIVERY = 2**32  # source_row is below it (1, 2, ... within one delivered file)
# source_line (spend_lines, rejected_rows, excluded_rows): where the row is in the file as
# delivered: its line as a text editor counts it (header included; a record over several
# lines: where it starts), a workbook's sheet row, an XML element's line

RAW_TABLES: dict[str, str] = {
    "spend_lines": f"""
        delivery_id VARCHAR NOT NULL,
        municipality_id VARCHAR NOT NULL,
        invoice_id VARCHAR NOT NULL,
        line_no VARCHAR,
        invoice_date DATE NOT NULL,
        supplier_org_no_raw VARCHAR,
        supplier_org_no VARCHAR,
        supplier_country VARCHAR,
        is_supplier_org_no_valid BOOLEAN NOT NULL,
        supplier_name VARCHAR,
        account VARCHAR,
        art VARCHAR,
        amount_excl_vat {AMOUNT} NOT NULL,
        currency VARCHAR NOT NULL,
        item_code VARCHAR,
        item_code_scheme VARCHAR,
        description VARCHAR,
        order_ref VARCHAR,
        contract_ref VARCHAR,
        source_file VARCHAR NOT NULL,
        source_row BIGINT NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        department VARCHAR,
        seller_item_id VARCHAR,
        quantity DECIMAL(18, 4),
        unit_price DECIMAL(18, 6),
        local_supplier_id VARCHAR,
        spend_line_key BIGINT,
        source_line BIGINT
    """,
    "rejected_rows": """
        delivery_id VARCHAR,
        municipality_id VARCHAR NOT NULL,
        source_file VARCHAR NOT NULL,
        source_row BIGINT,
        reason VARCHAR NOT NULL,
        raw_row VARCHAR,
        rejected_at TIMESTAMP NOT NULL,
        source_line BIGINT
    """,
    "deliveries": f"""
        delivery_id VARCHAR NOT NULL,
        municipality_id VARCHAR NOT NULL,
        source_file VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        profile VARCHAR NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        amount_loaded {TOTAL},
        first_invoice_date DATE,
        last_invoice_date DATE,
        status VARCHAR NOT NULL,
        message VARCHAR,
        loaded_at TIMESTAMP NOT NULL,
        series VARCHAR,
        period VARCHAR,
        rows_excluded BIGINT
    """,
    "delivery_replacements": f"""
        delivery_id VARCHAR NOT NULL,
        replaced_by VARCHAR NOT NULL,
        replaced_at TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL,
        rows_replaced BIGINT,
        amount_replaced {TOTAL}
    """,
    "excluded_rows": f"""
        delivery_id VARCHAR NOT NULL,
        municipality_id VARCHAR NOT NULL,
        source_file VARCHAR NOT NULL,
        source_row BIGINT,
        reason VARCHAR NOT NULL,
        raw_row VARCHAR,
        amount_excl_vat {AMOUNT},
        excluded_at TIMESTAMP NOT NULL,
        source_line BIGINT
    """,
    # the delivered text of each loaded line in a currency other than the cooperation's
    # (only those: a line without an exchange rate for its month is rejected when the
    # models are built, and rejected_rows then shows the line as delivered): the same text
    # a rejected row of its format keeps in rejected_rows.raw_row (a CSV file: its line(s)
    # exactly, decoded with the profile's encoding). Written in the line's transaction;
    # a row of a replaced delivery stays, as its lines do.
    "delivered_text": """
        delivery_id VARCHAR NOT NULL,
        source_row BIGINT NOT NULL,
        source_line BIGINT,
        delivered_text VARCHAR NOT NULL
    """,
    "agreements": """
        agreement_id VARCHAR NOT NULL,
        agreement_name VARCHAR,
        scope VARCHAR NOT NULL,
        valid_from DATE NOT NULL,
        valid_to DATE NOT NULL,
        provision_rate DECIMAL(9, 6),
        source_file VARCHAR NOT NULL,
        source_row BIGINT NOT NULL,
        estimated_annual_volume DECIMAL(18, 4)
    """,
    "agreement_categories": """
        agreement_id VARCHAR NOT NULL,
        category_id VARCHAR NOT NULL
    """,
    "agreement_suppliers": """
        agreement_id VARCHAR NOT NULL,
        supplier_org_no_raw VARCHAR NOT NULL,
        supplier_org_no VARCHAR,
        is_supplier_org_no_valid BOOLEAN NOT NULL
    """,
    "agreement_participants": """
        agreement_id VARCHAR NOT NULL,
        municipality_id VARCHAR NOT NULL
    """,
    "price_list": """
        agreement_id VARCHAR NOT NULL,
        supplier_org_no_raw VARCHAR NOT NULL,
        supplier_org_no VARCHAR NOT NULL,
        item_id VARCHAR NOT NULL,
        unit_price DECIMAL(18, 6) NOT NULL,
        currency VARCHAR NOT NULL,
        valid_from DATE NOT NULL,
        valid_to DATE NOT NULL,
        source_file VARCHAR NOT NULL,
        source_row BIGINT NOT NULL
    """,
    "supplier_register": """
        supplier_id VARCHAR NOT NULL,
        supplier_name VARCHAR,
        org_no_raw VARCHAR,
        org_no VARCHAR,
        is_org_no_valid BOOLEAN NOT NULL,
        alias_type VARCHAR,
        alias VARCHAR,
        municipality_id VARCHAR,
        source_file VARCHAR NOT NULL,
        source_row BIGINT NOT NULL,
        is_person BOOLEAN NOT NULL
    """,
    "municipalities": """
        municipality_id VARCHAR NOT NULL,
        municipality_name VARCHAR NOT NULL,
        population INTEGER,
        is_host BOOLEAN NOT NULL
    """,
    "cooperation": """
        cooperation_name VARCHAR NOT NULL,
        country VARCHAR NOT NULL,
        currency VARCHAR NOT NULL,
        host_municipality_id VARCHAR NOT NULL,
        loyalty_target DECIMAL(9, 6),
        coverage_target DECIMAL(9, 6)
    """,
    "taxonomy": """
        category_id VARCHAR NOT NULL,
        category_name VARCHAR NOT NULL,
        parent_id VARCHAR
    """,
    "classification_rules": """
        rule_type VARCHAR NOT NULL,
        pattern VARCHAR NOT NULL,
        category_id VARCHAR NOT NULL
    """,
    "exchange_rates": """
        currency VARCHAR NOT NULL,
        month VARCHAR NOT NULL,
        rate_to_base DECIMAL(18, 8) NOT NULL
    """,
    "excluded_suppliers": """
        supplier_org_no_raw VARCHAR NOT NULL,
        supplier_org_no VARCHAR,
        reason VARCHAR
    """,
    "kostra_arts": """
        art VARCHAR NOT NULL,
        art_name VARCHAR NOT NULL,
        is_influenceable BOOLEAN NOT NULL
    """,
    "emission_factors": """
        category_id VARCHAR NOT NULL,
        kg_co2e_per_currency_unit DECIMAL(18, 6) NOT NULL,
        currency VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        is_illustrative BOOLEAN NOT NULL
    """,
}

# The SHA-256 of each delivered file when it was last read, with what the file system said
# of it then (pipelines/defs/ingest/assets.py: a file whose size, modification time, change
# time and inode are unchanged is not read again to be checksummed).
FILE_FINGERPRINTS = "raw.file_fingerprints"
FILE_FINGERPRINT_COLUMNS = """
    path VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns HUGEINT NOT NULL,
    ctime_ns HUGEINT NOT NULL,
    inode HUGEINT NOT NULL,
    sha256 VARCHAR NOT NULL,
    hashed_at TIMESTAMP NOT NULL
"""

# Tables that belong to one municipality's deliveries; the rest are replaced whole.
DELIVERY_TABLES = (
    "spend_lines",
    "rejected_rows",
    "deliveries",
    "delivery_replacements",
    "excluded_rows",
    "delivered_text",
)


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw tables; a warehouse of an earlier version gets the columns added
    since (always at the end of a table, so positional inserts stay right), and its totals
    widened to TOTAL (an earlier version summed them in AMOUNT, which can overflow)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    # not a dbt source (not in RAW_TABLES): the ingestion's own memory of checksums
    con.execute(f"CREATE TABLE IF NOT EXISTS {FILE_FINGERPRINTS} ({FILE_FINGERPRINT_COLUMNS})")
    existing: dict[tuple[str, str], str] = {
        (table, column): data_type.replace(" ", "")
        for table, column, data_type in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = 'raw'"
        ).fetchall()
    }
    for table, columns in RAW_TABLES.items():
        if not any(key[0] == table for key in existing):
            con.execute(f"CREATE TABLE raw.{table} ({columns})")
            continue
        for definition in _column_definitions(columns):
            column, data_type = definition.split()[0], definition.split()[1:3]
            current = existing.get((table, column))
            if current is None:
                con.execute(
                    f"ALTER TABLE raw.{table} ADD COLUMN {definition.removesuffix(' NOT NULL')}"
                )
            elif data_type == TOTAL.split() and current != TOTAL.replace(" ", ""):
                con.execute(f"ALTER TABLE raw.{table} ALTER COLUMN {column} TYPE {TOTAL}")
    _number_spend_lines(con)


def _number_spend_lines(con: duckdb.DuckDBPyConnection) -> None:
    """spend_line_key for a warehouse of an earlier version: its lines get the column (added
    above) and, per delivery in the order they were loaded, a delivery number after any
    already used; then the sequence that numbers the deliveries loaded from now on."""
    con.execute("ALTER TABLE raw.spend_lines ADD COLUMN IF NOT EXISTS spend_line_key BIGINT")
    last, unnumbered = con.execute(
        f"SELECT coalesce(max(spend_line_key) // {ROWS_PER_DELIVERY}, 0), "
        "count(*) FILTER (WHERE spend_line_key IS NULL AND source_row IS NOT NULL) "
        "FROM raw.spend_lines"
    ).fetchone()
    if unnumbered:
        con.execute(
            f"""
            UPDATE raw.spend_lines AS lines
            SET spend_line_key = numbered.delivery_number * {ROWS_PER_DELIVERY} + lines.source_row
            FROM (
                SELECT
                    delivery_id,
                    {last} + row_number() OVER (ORDER BY min(loaded_at), delivery_id)
                        AS delivery_number
                FROM raw.spend_lines
                WHERE spend_line_key IS NULL AND source_row IS NOT NULL
                GROUP BY delivery_id
            ) AS numbered
            WHERE lines.delivery_id = numbered.delivery_id
              AND lines.spend_line_key IS NULL AND lines.source_row IS NOT NULL
            """
        )
        last = con.execute(
            f"SELECT max(spend_line_key) // {ROWS_PER_DELIVERY} FROM raw.spend_lines"
        ).fetchone()[0]
    con.execute(f"CREATE SEQUENCE IF NOT EXISTS {DELIVERY_NUMBERS} START WITH {last + 1}")


def next_spend_line_key_base(con: duckdb.DuckDBPyConnection) -> int:
    """number * ROWS_PER_DELIVERY for a delivery about to be loaded: the sequence's next
    number, or one after the highest in use should the sequence ever lag behind the lines
    (a warehouse put together by hand)."""
    number = con.execute(
        f"SELECT greatest(nextval('{DELIVERY_NUMBERS}'), "
        f"(SELECT coalesce(max(spend_line_key) // {ROWS_PER_DELIVERY}, 0) + 1 "
        "FROM raw.spend_lines))"
    ).fetchone()[0]
    return number * ROWS_PER_DELIVERY


def _column_definitions(columns: str) -> list[str]:
    return [" ".join(line.split()) for line in columns.strip().rstrip(",").split(",\n")]


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection: open, use, close. Never hold the warehouse open."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        str(path),
        read_only=read_only,
        config={
            "memory_limit": os.environ.get(MEMORY_ENV_VAR, "4GB"),
            "checkpoint_threshold": CHECKPOINT_THRESHOLD,
        },
    )
    try:
        yield con
    finally:
        con.close()
