"""Plausible values (`limits:` in cooperation.yml): amounts beyond ±limits.max_amount and
invoice dates outside a window around the delivery are rejected row by row with that
reason, never as "not a number"; totals are summed in a type no accepted amounts overflow,
also in a warehouse written by an earlier version."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.profiles import load_profile
from pipelines.settings import DeclaredPeriod, Limits, load_config
from pipelines.spend_loader import DateWindow, load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import CANONICAL_HEADER, write

TODAY = date(2026, 6, 15)
LINE = "5035,{id},1,{day},923609016,Data AS,11500,115,{amount},NOK,,,,,{tail}"


def _file(tmp_path: Path, rows: list[tuple[str, str]], header_tail: str = "") -> Path:
    """A canonical file of (invoice date, amount) rows; invoice ids R1, R2, ..."""
    body = "".join(
        LINE.format(id=f"R{i}", day=day, amount=amount, tail="") + "\n"
        for i, (day, amount) in enumerate(rows, start=1)
    )
    return write(tmp_path / "d.csv", CANONICAL_HEADER + header_tail + "\n" + body)


def _load(con, path: Path, limits: Limits | None = None, declared=None):
    profile = load_profile("canonical", path.parent)
    return load_spend_file(
        con, path, "5035", profile, "NO", "NOK", declared, limits=limits, today=TODAY
    )


# the source column of the invoice id: its delimiter and position in the files below
_KEY_FIELDS = {"invoice_id": (",", 1), "Bilag": (";", 0)}


def _reasons(con, key: str = "invoice_id") -> dict[str, str]:
    """Each rejected row's reason by its invoice id (`key`: the source column), read from
    the row as delivered (raw_row is the file's line)."""
    delimiter, position = _KEY_FIELDS[key]
    return {
        raw.split(delimiter)[position]: reason
        for raw, reason in con.execute("SELECT raw_row, reason FROM raw.rejected_rows").fetchall()
    }


def _loaded_ids(con) -> list[str]:
    return [
        r[0] for r in con.execute("SELECT invoice_id FROM raw.spend_lines ORDER BY 1").fetchall()
    ]


# --- amounts -------------------------------------------------------------------------------


def test_amounts_beyond_the_limit_are_rejected_with_that_reason_never_not_a_number(con, tmp_path):
    rows = [
        ("2024-03-05", "1000000000000"),  # R1: exactly the limit: loads
        ("2024-03-05", "-1000000000000"),  # R2
        ("2024-03-05", "1000000000000.01"),  # R3: just above
        ("2024-03-05", "1e+15"),  # R4: the example
        ("2024-03-05", "100000000000000"),  # R5: 10^14 was 'not a number'
        ("2024-03-05", "-1e40"),  # R6: beyond what any decimal holds
        ("2024-03-05", "ti"),  # R7: not a number
        ("2024-03-05", "inf"),  # R8: not a number either
    ]
    result = _load(con, _file(tmp_path, rows))
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 6)
    assert _loaded_ids(con) == ["R1", "R2"]
    outside = " is outside the plausible range of ±1 000 000 000 000 (limits.max_amount)"
    assert _reasons(con) == {
        "R3": "amount_excl_vat '1000000000000.01'" + outside,
        "R4": "amount_excl_vat '1e+15'" + outside,
        "R5": "amount_excl_vat '100000000000000'" + outside,
        "R6": "amount_excl_vat '-1e40'" + outside,
        "R7": "amount_excl_vat 'ti' is not a number (decimal separator .)",
        "R8": "amount_excl_vat 'inf' is not a number (decimal separator .)",
    }


def test_the_limit_is_configurable_and_capped_at_what_a_line_holds(con, tmp_path):
    path = _file(tmp_path / "a", [("2024-03-05", "-999"), ("2024-03-05", "1000")])
    result = _load(con, path, Limits(max_amount=999))
    assert result.rows_loaded == 1
    assert _reasons(con)["R2"] == (
        "amount_excl_vat '1000' is outside the plausible range of ±999 (limits.max_amount)"
    )
    path = _file(tmp_path / "b", [("2024-03-05", "1000"), ("2024-03-05", "1e15")])
    result = _load(con, path, Limits(max_amount=10**20))
    assert result.rows_loaded == 1
    assert _reasons(con)["R2"] == (
        "amount_excl_vat '1e15' is outside the plausible range of ±99 999 999 999 999 "
        "(limits.max_amount 100 000 000 000 000 000 000 is more than a line holds)"
    )


def test_a_vat_or_a_quantity_beyond_range_says_so(con, tmp_path):
    profile_path = write(
        tmp_path / "gross.yaml",
        """
        profile: gross
        csv: {delimiter: ";"}
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Brutto}
          quantity: {column: Antall}
        amount: {vat_column: Mva}
        """,
    )
    profile = load_profile("gross.yaml", profile_path.parent)
    path = write(
        tmp_path / "g.csv",
        """
        Bilag;Dato;Brutto;Mva;Antall
        B1;2024-03-05;125;25;1
        B2;2024-03-05;125;1e40;1
        B3;2024-03-05;2000000000000;25;1
        B4;2024-03-05;125;25;1e20
        """,
    )
    result = load_spend_file(con, path, "5035", profile, "NO", "NOK", today=TODAY)
    assert (result.rows_loaded, result.rows_rejected) == (1, 3)
    assert _reasons(con, "Bilag") == {
        "B2": "VAT (column 'Mva') is outside the plausible range of ±1 000 000 000 000 "
        "(limits.max_amount)",
        "B3": "amount_excl_vat '2000000000000' minus VAT '25' is outside the plausible range "
        "of ±1 000 000 000 000 (limits.max_amount)",
        "B4": "quantity '1e20' is outside the range a line can hold (±99 999 999 999 999)",
    }


def test_totals_of_accepted_amounts_never_overflow(con, tmp_path):
    """150 lines at the limit sum to 1.5 × 10^14, beyond DECIMAL(18, 4): the delivery is
    recorded with its exact total (it once failed, and stopped the member's later files)."""
    result = _load(con, _file(tmp_path, [("2024-03-05", "999999999999.99")] * 150))
    assert (result.status, result.rows_loaded) == ("loaded", 150)
    expected = Decimal("999999999999.99") * 150
    assert result.amount_loaded == expected
    assert con.execute("SELECT amount_loaded FROM raw.deliveries").fetchone()[0] == expected


def test_an_earlier_warehouse_gets_its_totals_widened(tmp_path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE SCHEMA raw")
    old.execute(
        "CREATE TABLE raw.deliveries (delivery_id VARCHAR, municipality_id VARCHAR, "
        "source_file VARCHAR, file_sha256 VARCHAR, profile VARCHAR, rows_read BIGINT, "
        "rows_loaded BIGINT, rows_rejected BIGINT, amount_loaded DECIMAL(18, 4), "
        "first_invoice_date DATE, last_invoice_date DATE, status VARCHAR, message VARCHAR, "
        "loaded_at TIMESTAMP)"
    )
    old.execute(
        "INSERT INTO raw.deliveries VALUES ('D1', '5035', 'a.csv', 'sha', 'canonical', 1, 1, 0, "
        "12.5, NULL, NULL, 'loaded', NULL, '2024-01-01')"
    )
    old.execute("CREATE VIEW main.uses_deliveries AS SELECT amount_loaded FROM raw.deliveries")
    create_raw_schema(old)
    types = dict(
        old.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'deliveries'"
        ).fetchall()
    )
    assert types["amount_loaded"] == "DECIMAL(38,4)"
    assert types["rows_excluded"] == "BIGINT"  # added at the end, as before
    assert old.execute("SELECT amount_loaded FROM main.uses_deliveries").fetchall() == [
        (Decimal("12.5"),)
    ]
    old.close()
    again = duckdb.connect(str(path))
    create_raw_schema(again)  # nothing left to change
    write_path = _file(tmp_path, [("2024-03-05", "999999999999.99")] * 120)
    assert _load(again, write_path).amount_loaded == Decimal("999999999999.99") * 120
    again.close()


# --- invoice dates -------------------------------------------------------------------------


def test_without_a_declared_period_a_date_more_than_a_year_after_today_is_rejected(con, tmp_path):
    rows = [
        ("2027-06-15", "1"),  # R1: one year after the day it is loaded: loads
        ("2027-06-16", "1"),  # R2
        ("2100-12-31", "1"),  # R3: the example
        ("1990-01-01", "1"),  # R4: the floor: loads (old data onboards)
        ("1989-12-31", "1"),  # R5
    ]
    result = _load(con, _file(tmp_path, rows))
    assert _loaded_ids(con) == ["R1", "R4"]
    late = (
        " is more than 1 year after the day it is loaded, 2026-06-15 (latest plausible date "
        "2027-06-15, limits.invoice_date_years_after)"
    )
    assert _reasons(con) == {
        "R2": "invoice_date '2027-06-16'" + late,
        "R3": "invoice_date '2100-12-31'" + late,
        "R5": "invoice_date '1989-12-31' is before 1990-01-01, the earliest plausible invoice date",
    }
    assert result.rows_rejected == 3


@pytest.mark.parametrize(
    ("period", "earliest", "latest"),
    [
        ("2024-03", date(2019, 3, 1), date(2025, 3, 31)),
        ("2024-Q1", date(2019, 1, 1), date(2025, 3, 31)),
        ("2024", date(2019, 1, 1), date(2025, 12, 31)),
        ("2024-02", date(2019, 2, 1), date(2025, 2, 28)),  # 29 February + 1 year
        ("1992-06", date(1990, 1, 1), date(1993, 6, 30)),  # never before the floor
    ],
)
def test_the_window_around_a_declared_period(period, earliest, latest):
    window = DateWindow.around(Limits(), DeclaredPeriod("s", period), TODAY)
    assert (window.earliest, window.latest) == (earliest, latest)


def test_a_period_that_is_a_file_name_falls_back_to_the_day_it_is_loaded():
    window = DateWindow.around(Limits(), DeclaredPeriod("s", "spend 2024-03.csv"), TODAY)
    assert (window.earliest, window.latest) == (date(1990, 1, 1), date(2027, 6, 15))


def test_dates_outside_the_window_around_the_declared_period_are_rejected(con, tmp_path):
    rows = [
        ("2019-03-01", "1"),  # R1: five years before the period's first day
        ("2019-02-28", "1"),  # R2
        ("2025-03-31", "1"),  # R3: a year after its last day
        ("2025-04-01", "1"),  # R4
    ]
    result = _load(con, _file(tmp_path, rows), declared=DeclaredPeriod("s", "2024-03"))
    assert (result.rows_loaded, result.rows_rejected) == (2, 2)
    assert _reasons(con) == {
        "R2": "invoice_date '2019-02-28' is more than 5 years before the delivery's period "
        "2024-03 (earliest plausible date 2019-03-01, limits.invoice_date_years_before)",
        "R4": "invoice_date '2025-04-01' is more than 1 year after the delivery's period "
        "2024-03 (latest plausible date 2025-03-31, limits.invoice_date_years_after)",
    }


def test_the_cooperations_limits_reach_the_loader(tmp_path):
    write(tmp_path / "agreements.csv", "agreement_id\n")
    write(
        tmp_path / "spend" / "2024-03.csv",
        CANONICAL_HEADER
        + "\n"
        + LINE.format(id="A", day="2023-03-05", amount="500", tail="")
        + "\n"
        + LINE.format(id="B", day="2024-03-05", amount="50", tail="")
        + "\n",
    )
    cooperation = load_config(
        write(
            tmp_path / "cooperation.yml",
            """
            cooperation: {name: Test, country: NO, currency: NOK, host: "5035"}
            agreements: [{path: agreements.csv, profile: canonical}]
            limits: {max_amount: 100, invoice_date_years_before: 0}
            municipalities:
              - id: "5035"
                name: Stjørdal
                spend:
                  - path: spend/*.csv
                    profile: canonical
                    period: {from_name: '(?P<year>\\d{4})-(?P<month>\\d{2})'}
            """,
        )
    )
    (result,) = load_member_deliveries(cooperation, "5035", logging.getLogger("test"))
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    try:
        assert con.execute("SELECT reason FROM raw.rejected_rows").fetchone()[0] == (
            "invoice_date '2023-03-05' is more than 0 years before the delivery's period "
            "2024-03 (earliest plausible date 2024-03-01, limits.invoice_date_years_before)"
        )
    finally:
        con.close()
