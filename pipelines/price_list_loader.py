"""Load the agreement price lists (`price_lists:` in cooperation.yml) into raw.price_list.

A price list is part of the agreement register (data_contracts/price_list.odcs.yaml): the
host's own file, read after the agreements it refers to. As with the register, a bad row
stops the run with a message naming the file, the row and the column, instead of being
skipped: a skipped price would silently hide overcharges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.contracts import column_names
from pipelines.orgno import clean_org_no
from pipelines.register_loader import Row, read_rows
from pipelines.settings import Cooperation

MAX_UNIT_PRICE = Decimal(10) ** 12  # raw.price_list.unit_price is DECIMAL(18, 6)


@dataclass(frozen=True)
class _Period:
    valid_from: date
    valid_to: date
    path: Path
    number: int


def agreement_suppliers(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    """Every agreement id of the loaded register with its suppliers' validated numbers: the
    numbers it lists, and the number of each supplier_id of the supplier register it lists
    (the register is loaded before the agreements)."""
    suppliers: dict[str, set[str]] = {
        agreement_id: set()
        for (agreement_id,) in con.execute("SELECT agreement_id FROM raw.agreements").fetchall()
    }
    for agreement_id, org_no in con.execute(
        "SELECT agreement_suppliers.agreement_id, coalesce("
        "    CASE WHEN agreement_suppliers.is_supplier_org_no_valid"
        "        THEN agreement_suppliers.supplier_org_no END,"
        "    registered.org_no"
        ") AS org_no "
        "FROM raw.agreement_suppliers AS agreement_suppliers "
        "LEFT JOIN raw.supplier_register AS registered"
        "    ON NOT agreement_suppliers.is_supplier_org_no_valid"
        "    AND agreement_suppliers.supplier_org_no_raw = registered.supplier_id"
        "    AND registered.is_org_no_valid"
    ).fetchall():
        suppliers.setdefault(agreement_id, set())
        if org_no is not None:
            suppliers[agreement_id].add(org_no)
    return suppliers


def registered_org_nos(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """supplier_id -> validated number of the loaded supplier register's suppliers that have one."""
    return dict(
        con.execute(
            "SELECT DISTINCT supplier_id, org_no FROM raw.supplier_register WHERE is_org_no_valid"
        ).fetchall()
    )


def read_price_lists(
    cooperation: Cooperation,
    suppliers: dict[str, set[str]],
    registered: dict[str, str] | None = None,
) -> list[tuple]:
    """The rows of every configured price list file, validated, as raw.price_list tuples."""
    rows: list[tuple] = []
    periods: dict[tuple[str, str, str], list[_Period]] = {}
    for source in cooperation.price_lists:
        for path in source.files():
            for row in read_rows(path, column_names("price_list")):
                rows.append(_read_price(row, cooperation, suppliers, registered or {}, periods))
    return rows


def _read_price(
    row: Row,
    cooperation: Cooperation,
    suppliers: dict[str, set[str]],
    registered: dict[str, str],
    periods: dict[tuple[str, str, str], list[_Period]],
) -> tuple:
    agreement_id = row.text("agreement_id")
    if agreement_id not in suppliers:
        raise row.fail("agreement_id", f"{agreement_id!r} is not in the agreement register")
    raw_org_no = row.text("supplier_org_no")
    org_no = clean_org_no(raw_org_no, cooperation.country)
    if not org_no.is_valid and raw_org_no in registered:  # a supplier_id of the register
        org_no = clean_org_no(registered[raw_org_no], cooperation.country)
    if not org_no.is_valid:
        raise row.fail(
            "supplier_org_no",
            f"{raw_org_no!r} is not a valid organisation number for {cooperation.country} "
            "(nor a supplier_id of the supplier register with one)",
        )
    if org_no.compact not in suppliers[agreement_id]:
        listed = ", ".join(sorted(suppliers[agreement_id])) or "none with a valid number"
        raise row.fail(
            "supplier_org_no",
            f"{org_no.compact} is not a supplier of agreement "
            f"{agreement_id!r} (its suppliers: {listed})",
        )
    item_id = row.text("item_id")
    unit_price = row.decimal("unit_price")
    if not unit_price.is_finite() or not 0 < unit_price < MAX_UNIT_PRICE:
        raise row.fail("unit_price", f"{unit_price} must be greater than 0 (and below 10^12)")
    currency = row.text("currency").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise row.fail("currency", f"{currency!r} is not a 3-letter currency code (ISO 4217)")
    valid_from, valid_to = row.date("valid_from"), row.date("valid_to")
    if valid_to < valid_from:
        raise row.fail("valid_to", f"{valid_to} is before valid_from {valid_from}")
    key = (agreement_id, org_no.compact, item_id)
    for other in periods.get(key, []):
        if valid_from <= other.valid_to and other.valid_from <= valid_to:
            raise row.fail(
                "valid_from",
                f"item {item_id!r} of {org_no.compact} on agreement "
                f"{agreement_id!r} already has a price for {other.valid_from} .. "
                f"{other.valid_to} ({other.path}: row {other.number}); periods of "
                "one item must not overlap",
            )
    periods.setdefault(key, []).append(_Period(valid_from, valid_to, row.path, row.number))
    return (
        agreement_id,
        raw_org_no,
        org_no.compact,
        item_id,
        unit_price,
        currency,
        valid_from,
        valid_to,
        str(row.path),
        row.number,
    )


def load_price_lists(con: duckdb.DuckDBPyConnection, cooperation: Cooperation) -> int:
    """Replace raw.price_list; the supplier register and the agreements must be loaded
    first. Returns the number of rows (0, and an empty table, when no price list is
    configured)."""
    rows = read_price_lists(cooperation, agreement_suppliers(con), registered_org_nos(con))
    con.execute("DELETE FROM raw.price_list")
    if rows:
        con.executemany(
            f"INSERT INTO raw.price_list VALUES ({', '.join('?' * len(rows[0]))})", rows
        )
    return len(rows)
