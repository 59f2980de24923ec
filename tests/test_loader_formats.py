"""Every reader through the loader: official e-invoice and SAF-T examples, Excel."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from lxml import etree
from openpyxl import Workbook

from pipelines.profiles import load_profile
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import write

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
UBL = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
}


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(connection)
    yield connection
    connection.close()


def _stated_line_total(path: Path) -> Decimal:
    root = etree.parse(str(path)).getroot()
    total = Decimal(root.find("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", UBL).text)
    return -total if etree.QName(root).localname == "CreditNote" else total


def test_a_folder_of_official_e_invoices_is_one_delivery_with_every_line(con, tmp_path):
    assert REFERENCE.is_dir(), f"official examples missing: {REFERENCE}"
    folder = tmp_path / "ehf-2024-03"
    folder.mkdir()
    examples = sorted((REFERENCE / "einvoice" / "peppol-bis-3").glob("*.xml"))
    for example in examples:
        shutil.copy(example, folder / example.name)
    result = load_spend_file(con, folder, "5035", load_profile("ehf", tmp_path), "NO", "NOK")
    assert result.status == "loaded", result.message
    assert result.rows_rejected == 0
    assert result.rows_read == result.rows_loaded
    by_invoice = dict(
        con.execute(
            "SELECT source_file || ':' || invoice_id, sum(amount_excl_vat) FROM raw.spend_lines "
            "GROUP BY ALL"
        ).fetchall()
    )
    assert sum(by_invoice.values()) == sum(_stated_line_total(p) for p in examples)
    row = con.execute(
        "SELECT supplier_org_no, is_supplier_org_no_valid, item_code, "
        "item_code_scheme FROM raw.spend_lines WHERE invoice_id = 'TOSL108' "
        "AND line_no = '1'"
    ).fetchone()
    assert row == ("123456785", True, "65434568", "CPV")
    # price control fields: seller's item id, quantity, net unit price, buyer reference
    price_fields = (
        "SELECT seller_item_id, quantity, unit_price, department FROM raw.spend_lines"
        " WHERE invoice_id = ? AND line_no = ?"
    )
    assert con.execute(price_fields, ["TOSL108", "5"]).fetchone() == (
        "JB011",
        Decimal("250"),
        Decimal("0.75"),
        "3150bdn",
    )
    # Allowance-example.xml (the folder's first file) line 2: PriceAmount 200 per
    # BaseQuantity 2 -> 100 per unit
    assert con.execute(
        "SELECT invoice_id, line_no, seller_item_id, quantity, unit_price FROM raw.spend_lines "
        "WHERE source_row = 2"
    ).fetchone() == ("Snippet1", "2", "97iugug876", Decimal("10"), Decimal("100"))


def test_a_credit_note_reduces_spend(con, tmp_path):
    path = REFERENCE / "einvoice" / "peppol-bis-3" / "base-creditnote-correction.xml"
    result = load_spend_file(con, path, "5035", load_profile("ehf", tmp_path), "NO", "NOK")
    assert result.amount_loaded == _stated_line_total(path) < 0
    # the quantity carries the credit's sign, the unit price stays positive
    assert con.execute(
        "SELECT quantity, unit_price FROM raw.spend_lines ORDER BY source_row"
    ).fetchall() == [(Decimal("-7"), Decimal("400")), (Decimal("3"), Decimal("500"))]


def test_official_saft_example_loads_its_supplier_postings(con, tmp_path):
    path = REFERENCE / "saf-t" / "ExampleFile_SAF-T_Financial_888888888_20180228235959.xml"
    result = load_spend_file(con, path, "5035", load_profile("saf-t", tmp_path), "NO", "NOK")
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 22, 22)
    assert result.amount_loaded == Decimal("504951.00")


def test_a_hostile_xml_file_is_rejected_with_a_reason(con, tmp_path):
    path = write(
        tmp_path / "evil.xml",
        """
        <?xml version="1.0"?>
        <!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
        <Invoice>&lol2;</Invoice>
    """,
    )
    result = load_spend_file(con, path, "5035", load_profile("ehf", tmp_path), "NO", "NOK")
    assert result.status == "rejected" and "evil.xml" in result.message


def test_excel_named_sheet_with_header_offset(con, tmp_path):
    workbook = Workbook()
    workbook.active.title = "Forside"
    sheet = workbook.create_sheet("Fakturaer")
    sheet.append(["Eksport fra økonomisystemet"])
    sheet.append([])
    sheet.append(["Bilag", "Dato", "Orgnr", "Konto", "Beløp"])
    sheet.append(["B1", dt.datetime(2024, 5, 2), "923609016", "11500", 1234.5])
    sheet.append(["B2", "03.05.2024", "923609016", "12000", -99])
    sheet.append(["B3", dt.datetime(2024, 5, 4), "923609016", "12000", "tolv"])
    path = tmp_path / "mai.xlsx"
    workbook.save(path)
    profile = load_profile(
        "x.yaml",
        write(
            tmp_path / "x.yaml",
            """
        profile: test-xlsx
        format: xlsx
        xlsx: {sheet: Fakturaer, header_row: 3, date_formats: ["%d.%m.%Y"]}
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          supplier_org_no: {column: Orgnr}
          account: {column: Konto}
          amount_excl_vat: {column: Beløp}
        art: {from_account: {start: 1, length: 3}}
    """,
        ).parent,
    )
    result = load_spend_file(con, path, "5035", profile, "NO", "NOK")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert con.execute(
        "SELECT invoice_date, art, amount_excl_vat FROM raw.spend_lines ORDER BY source_row"
    ).fetchall() == [
        (dt.date(2024, 5, 2), "115", Decimal("1234.5")),
        (dt.date(2024, 5, 3), "120", Decimal("-99")),
    ]


def test_a_folder_for_a_file_format_is_rejected(con, tmp_path):
    (tmp_path / "folder").mkdir()
    result = load_spend_file(
        con, tmp_path / "folder", "5035", load_profile("canonical", tmp_path), "NO", "NOK"
    )
    assert result.status == "rejected" and "is a folder" in result.message
