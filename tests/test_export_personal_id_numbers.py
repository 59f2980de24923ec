"""A personal identity number delivered in an organisation-number column is masked in every
export except the auditor's line-level `spend_lines` (issue 12 point 6; pipelines/export.py
PERSONAL_ID_COLUMNS, pipelines/orgno.py mask_personal_id_numbers)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import pytest
from stdnum.no import fodselsnummer

from pipelines import export
from pipelines.export_xlsx import TEXTS
from pipelines.orgno import PERSONAL_ID_MASK


def _test_fodselsnummer() -> str:
    """A synthetic fødselsnummer (1 Jan 1990, individual number 1xx) made valid with
    python-stdnum's own check-digit rules: not a real person's number."""
    for individual in range(100, 500):
        base = f"010190{individual:03}"
        first = fodselsnummer.calc_check_digit1(base + "00")
        number = base + first
        number += fodselsnummer.calc_check_digit2(number + "0")
        if len(number) == 11 and fodselsnummer.is_valid(number):
            return number
    raise AssertionError("no valid synthetic fødselsnummer")


FNR = _test_fodselsnummer()
ORG_NO = "974760673"  # a valid organisation number: never masked


@pytest.fixture
def snapshot(tmp_path) -> Path:
    path = tmp_path / "snapshot.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.cooperation AS SELECT 'Innherred innkjøp' AS cooperation_name, "
        "'NO' AS country, 'NOK' AS currency"
    )
    con.execute(
        "CREATE TABLE marts.fct_spend_lines AS SELECT * FROM (VALUES "
        f"(1, '5035', 'F-1', DATE '2025-01-15', 2025, 'Ola Nordmann', '{FNR}', 100.0), "
        f"(2, '5035', 'F-2', DATE '2025-01-16', 2025, 'Kontor AS', '{ORG_NO}', 200.0)"
        ") AS t(spend_line_key, municipality_id, invoice_id, invoice_date, year, "
        "supplier_name, supplier_org_no_raw, amount)"
    )
    con.execute(
        "CREATE TABLE marts.suppliers AS SELECT * FROM (VALUES "
        f"('name:ola nordmann', 2025, NULL, 'invalid', '{FNR}', 'Ola Nordmann'), "
        "('name:bakeri', 2025, NULL, 'invalid', '123', 'Bakeri'), "
        f"('{ORG_NO}', 2025, '{ORG_NO}', 'valid', NULL, 'Kontor AS')"
        ") AS t(supplier_key, year, supplier_org_no, org_no_status, invalid_org_no_example, "
        "supplier_name)"
    )
    con.execute(
        "CREATE TABLE marts.rejected_rows AS SELECT * FROM (VALUES "
        f"('d1', '5035', 'spend.csv', 4, 5, 'amount: not a number', "
        f"'5035;F-9;2025-01-01;Ola Nordmann;{FNR};x', DATE '{date(2025, 3, 1)}')"
        ") AS t(delivery_id, municipality_id, source_file, source_row, source_line, reason, "
        "raw_row, rejected_at)"
    )
    con.execute(
        "CREATE TABLE marts.delivery_reconciliation AS SELECT 'd1' AS delivery_id, "
        "'5035' AS municipality_id, DATE '2025-01-01' AS first_invoice_date, "
        "DATE '2025-12-31' AS last_invoice_date"
    )
    con.close()
    return path


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_test_number_is_a_valid_fodselsnummer():
    assert fodselsnummer.is_valid(FNR) and FNR.startswith("010190")


def test_suppliers_and_rejected_rows_are_exported_masked(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "suppliers", "csv", tmp_path)
    examples = [row["invalid_org_no_example"] for row in _csv(path)]
    assert examples == ["", "123", PERSONAL_ID_MASK]  # ordered by year, supplier_key
    assert FNR not in path.read_text(encoding="utf-8")
    assert ORG_NO in path.read_text(encoding="utf-8")

    path, _ = export.export_table(snapshot, "rejected_rows", "csv", tmp_path)
    (row,) = _csv(path)
    assert row["raw_row"] == f"5035;F-9;2025-01-01;Ola Nordmann;{PERSONAL_ID_MASK};x"

    path, _ = export.export_table(snapshot, "rejected_rows", "parquet", tmp_path)
    (raw_row,) = duckdb.sql(f"SELECT raw_row FROM '{path}'").fetchone()
    assert FNR not in raw_row and PERSONAL_ID_MASK in raw_row


def test_the_workbook_is_masked_and_its_definitions_say_so(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "suppliers", "xlsx", tmp_path, language="en")
    workbook = openpyxl.load_workbook(path)
    cells = [c.value for row in workbook.worksheets[0].iter_rows() for c in row]
    assert PERSONAL_ID_MASK in cells and FNR not in cells
    definitions = {
        row[1].value: row[3].value for row in workbook[TEXTS["en"]["definitions"]].iter_rows()
    }
    assert PERSONAL_ID_MASK in definitions["invalid_org_no_example"]
    assert PERSONAL_ID_MASK not in definitions["supplier_org_no"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_auditors_line_level_export_keeps_the_number(snapshot, tmp_path, fmt):
    path, _ = export.export_table(snapshot, "spend_lines", fmt, tmp_path)
    if fmt == "csv":
        values = [row["supplier_org_no_raw"] for row in _csv(path)]
    else:
        sheet = openpyxl.load_workbook(path).worksheets[0]
        values = [c.value for row in sheet.iter_rows(min_row=2) for c in row]
    assert FNR in values and PERSONAL_ID_MASK not in values


def test_the_dashboards_download_is_masked_too(snapshot):
    _, content = export.export_bytes(snapshot, "suppliers", "csv")
    assert FNR.encode() not in content and PERSONAL_ID_MASK.encode() in content
