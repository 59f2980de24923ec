"""EHF 3.0 / Peppol BIS Billing 3.0 reader: official examples, hostile and broken files."""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from pipelines.settings import Limits
from pipelines.sources import DeliveryRejected, ehf, grouped
from pipelines.sources.csv_file import CsvHeader

REFERENCE = Path(os.environ.get("SAMKJOP_REFERENCE", "/work/shared/reference")) / "einvoice"
PEPPOL = REFERENCE / "peppol-bis-3"
NORWEGIAN = PEPPOL / "Norwegian-example-1.xml"
CREDIT_NOTE = PEPPOL / "base-creditnote-correction.xml"
CATALOGUE = REFERENCE / "ehf" / "Catalogue_Example.xml"
EXAMPLES = sorted(PEPPOL.glob("*.xml")) + [REFERENCE / "ehf" / "ehf-3-faktura-1.xml"]
NS = {"cac": ehf.CAC, "cbc": ehf.CBC}


@pytest.fixture(autouse=True)
def _reference_files_present():
    """The official examples sit in ../shared/reference (CI has them): missing is a failure."""
    assert PEPPOL.is_dir(), f"official example files missing: {REFERENCE}"


def read(path: Path, batch_rows: int = 100_000) -> list[dict]:
    """Every row of a delivery as {column name: value} plus the three technical columns."""
    header = ehf.read_header(path, None)
    rows = []
    for table in ehf.iter_batches(path, None, header, batch_rows):
        for row in table.to_pylist():
            named = {name: row[f"c{i}"] for i, name in enumerate(ehf.COLUMNS)}
            named.update({k: row[k] for k in ("_source_row", "_parse_error", "_raw_text")})
            rows.append(named)
    return rows


def stated_line_total(path: Path) -> Decimal:
    """The document's own LegalMonetaryTotal/LineExtensionAmount, signed as spend."""
    root = etree.parse(str(path)).getroot()
    total = Decimal(
        root.findtext("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", namespaces=NS).strip()
    )
    return -total if etree.QName(root).localname == "CreditNote" else total


def test_examples_found():
    assert len(EXAMPLES) == 10, EXAMPLES
    assert CATALOGUE not in EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_official_example_lines_sum_to_the_documents_line_total(path: Path):
    rows = read(path)
    root = etree.parse(str(path)).getroot()
    line_elements = root.findall("cac:InvoiceLine", NS) + root.findall("cac:CreditNoteLine", NS)
    assert [r["_parse_error"] for r in rows] == [None] * len(rows)
    assert len(rows) == len(line_elements) > 0
    assert [r["_source_row"] for r in rows] == list(range(1, len(rows) + 1))
    assert sum(Decimal(r["amount_excl_vat"]) for r in rows) == stated_line_total(path)
    assert {r["invoice_id"] for r in rows} == {root.findtext("cbc:ID", namespaces=NS)}
    assert {r["currency"] for r in rows} == {
        root.findtext("cbc:DocumentCurrencyCode", namespaces=NS)
    }
    assert {r["invoice_date"] for r in rows} == {root.findtext("cbc:IssueDate", namespaces=NS)}
    assert {r["municipality_id"] for r in rows} == {None}
    assert {r["art"] for r in rows} == {None}
    for row in rows:  # plain decimals with a point, no exponent
        assert "E" not in row["amount_excl_vat"] and "," not in row["amount_excl_vat"]


def test_norwegian_example_values():
    rows = read(NORWEGIAN)
    first = rows[0]
    assert first | {"_raw_text": None} == {
        "municipality_id": None,
        "invoice_id": "TOSL108",
        "line_no": "1",
        "invoice_date": "2013-06-30",
        "supplier_org_no": "123456785",
        "supplier_name": "The Sellercompany ASA",
        "account": "BookingCode001",
        "art": None,
        "amount_excl_vat": "1273",
        "currency": "NOK",
        "item_code": "65434568",
        "item_code_scheme": "CPV",
        "description": "Laptop computer",
        "order_ref": "123",
        "contract_ref": "Contract321",
        "supplier_org_no_scheme": "0192",
        "seller_item_id": "JB007",
        "quantity": "1",
        "unit_price": "1273",
        "document_type": "invoice",
        "department": "3150bdn",
        "_source_row": 1,
        "_parse_error": None,
        "_raw_text": None,
    }
    assert [r["amount_excl_vat"] for r in rows] == ["1273", "-3.96", "4.96", "-25", "187.5"]
    assert [r["quantity"] for r in rows] == ["1", "-1", "2", "-1", "250"]
    # the MP code comes first in the file; the CPV (listID STI) code is preferred
    assert [r["item_code"] for r in rows] == [
        "65434568",
        "65434567",
        "65434566",
        "65434565",
        "65434564",
    ]
    assert rows[1]["description"] == 'Returned "Advanced computing" book'
    # price control: the seller's item id, quantity and net unit price of every line
    assert [(r["seller_item_id"], r["quantity"], r["unit_price"]) for r in rows] == [
        ("JB007", "1", "1273"),
        ("JB008", "-1", "3.96"),
        ("JB009", "2", "2.48"),
        ("JB010", "-1", "25"),
        ("JB011", "250", "0.75"),
    ]


def test_unit_price_is_the_price_amount_per_base_quantity():
    # line 2: PriceAmount 200 for BaseQuantity 2, 10 units, LineExtensionAmount 1000.00
    rows = read(PEPPOL / "Allowance-example.xml")
    assert [(r["quantity"], r["unit_price"], r["amount_excl_vat"]) for r in rows] == [
        ("10", "410", "4000.00"),
        ("10", "100", "1000.00"),
        ("10", "100", "900.00"),
    ]
    assert {r["department"] for r in rows} == {"0150abc"}


def test_credit_note_reduces_spend():
    rows = read(CREDIT_NOTE)
    assert [r["document_type"] for r in rows] == ["credit_note", "credit_note"]
    # the file's lines: +2800 and -1500 (a correction line); the credit note negates both
    assert [r["amount_excl_vat"] for r in rows] == ["-2800", "1500"]
    assert [r["quantity"] for r in rows] == ["-7", "3"]
    assert [r["unit_price"] for r in rows] == ["400", "500"]  # prices stay positive
    assert rows[0]["currency"] == "EUR"
    assert rows[0]["account"] == "Konteringsstreng"  # line AccountingCost beats the document's
    assert rows[1]["account"] == "4025:123:4343"  # no line AccountingCost: the document's


def test_supplier_id_fallbacks():
    # EndpointID is a GLN (0088): the legal registration id (PartyLegalEntity/CompanyID) wins
    first = read(PEPPOL / "base-example.xml")[0]
    assert (first["supplier_org_no"], first["supplier_org_no_scheme"]) == ("GB983294", None)
    assert first["supplier_name"] == "SupplierOfficialName Ltd"
    assert (first["item_code"], first["item_code_scheme"]) == ("09348023", "SRV")
    # no legal registration id at all: the EndpointID, whatever its scheme
    first = read(PEPPOL / "vat-category-E.xml")[0]
    assert (first["supplier_org_no"], first["supplier_org_no_scheme"]) == ("7300010000001", "0088")


def test_header_and_table_shape():
    header = ehf.read_header(NORWEGIAN, None)
    assert header == CsvHeader(list(ehf.COLUMNS))
    assert len(ehf.COLUMNS) == 21 and ehf.COLUMNS[:15] == (
        "municipality_id",
        "invoice_id",
        "line_no",
        "invoice_date",
        "supplier_org_no",
        "supplier_name",
        "account",
        "art",
        "amount_excl_vat",
        "currency",
        "item_code",
        "item_code_scheme",
        "description",
        "order_ref",
        "contract_ref",
    )
    # every standard spend field is a column, so the profile needs no `fields:` (but the
    # member's own vendor number, which an e-invoice does not carry)
    from pipelines.profiles import SPEND_FIELDS

    assert set(SPEND_FIELDS) - set(ehf.COLUMNS) == {"local_supplier_id"}
    (table,) = list(ehf.iter_batches(NORWEGIAN, object(), header))
    width = len(ehf.COLUMNS)
    assert table.column_names == [f"c{i}" for i in range(width)] + [
        "_source_row",
        "_parse_error",
        "_raw_text",
        "_source_line",
        "_last_line",
    ]
    assert table.schema.field("_source_row").type == pa.int64()
    assert all(table.schema.field(f"c{i}").type == pa.string() for i in range(width))


def test_catalogue_is_rejected_with_a_reason():
    with pytest.raises(
        DeliveryRejected,
        match=r"^Catalogue_Example\.xml: .*root element is "
        r"Catalogue.*not a UBL Invoice or CreditNote",
    ):
        ehf.read_header(CATALOGUE, None)
    with pytest.raises(DeliveryRejected, match="Catalogue"):
        list(ehf.iter_batches(CATALOGUE, None, CsvHeader(list(ehf.COLUMNS))))


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Invoice [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>&lol9;</cbc:ID>
</Invoice>
"""


def xxe_document(target: Path) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE Invoice [<!ENTITY xxe SYSTEM "{target.as_uri()}">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>&xxe;</cbc:ID>
</Invoice>
"""


def all_text(rows: list[dict]) -> str:
    return " ".join(str(v) for row in rows for v in row.values() if v is not None)


def test_billion_laughs_is_rejected_without_expansion(tmp_path: Path):
    bomb = tmp_path / "bomb.xml"
    bomb.write_text(BILLION_LAUGHS)
    with pytest.raises(DeliveryRejected, match=r"^bomb\.xml: .*DOCTYPE") as caught:
        ehf.read_header(bomb, None)
    assert "lollol" not in str(caught.value)
    with pytest.raises(DeliveryRejected, match="DOCTYPE"):
        list(ehf.iter_batches(bomb, None, CsvHeader(list(ehf.COLUMNS))))
    # inside a folder: one error row, nothing expanded
    folder = tmp_path / "delivery"
    folder.mkdir()
    shutil.copy(bomb, folder / "bomb.xml")
    rows = read(folder)
    assert len(rows) == 1 and "file bomb.xml" in rows[0]["_parse_error"]
    assert "DOCTYPE" in rows[0]["_parse_error"] and "lollol" not in all_text(rows)


def test_external_entity_is_rejected_and_never_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    attack = tmp_path / "xxe.xml"
    attack.write_text(xxe_document(secret))
    with pytest.raises(DeliveryRejected, match=r"^xxe\.xml: .*DOCTYPE") as caught:
        ehf.read_header(attack, None)
    assert "TOP-SECRET" not in str(caught.value)
    folder = tmp_path / "delivery"
    folder.mkdir()
    shutil.copy(attack, folder / "xxe.xml")
    rows = read(folder)
    assert len(rows) == 1 and "DOCTYPE" in rows[0]["_parse_error"]
    assert "TOP-SECRET" not in all_text(rows)


def test_truncated_file_is_rejected(tmp_path: Path):
    truncated = tmp_path / "truncated.xml"
    data = NORWEGIAN.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DeliveryRejected, match=r"^truncated\.xml: .*not well-formed"):
        ehf.read_header(truncated, None)
    with pytest.raises(DeliveryRejected, match="not well-formed"):
        list(ehf.iter_batches(truncated, None, CsvHeader(list(ehf.COLUMNS))))


def test_empty_and_oversized_files_are_rejected(tmp_path: Path):
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(DeliveryRejected, match=r"^empty\.xml: .*empty"):
        ehf.read_header(empty, None)
    size = NORWEGIAN.stat().st_size
    small = Limits(xml_max_file_bytes=1000)
    message = (
        f"Norwegian-example-1.xml: not a valid EHF/Peppol BIS 3 invoice or credit note "
        f"(the file is {grouped(size)} bytes, more than limits.xml_max_file_bytes (1 000))"
    )
    with pytest.raises(DeliveryRejected) as caught:
        ehf.read_header(NORWEGIAN, None, limits=small)
    assert str(caught.value) == message
    with pytest.raises(DeliveryRejected) as caught:
        list(ehf.iter_batches(NORWEGIAN, None, CsvHeader(list(ehf.COLUMNS)), limits=small))
    assert str(caught.value) == message
    assert ehf.read_header(NORWEGIAN, None, limits=Limits(xml_max_file_bytes=size))


def test_deep_nesting_is_named_as_such(tmp_path: Path):
    """libxml2 stops at 256 levels; the message says so (it said "text node exceeds 10 MB")."""
    deep = tmp_path / "deep.xml"
    deep.write_text(
        f'<Invoice xmlns="{ehf.UBL_INVOICE}">' + "<a>" * 300 + "</a>" * 300 + "</Invoice>"
    )
    for attempt in (
        lambda: ehf.read_header(deep, None),
        lambda: list(ehf.iter_batches(deep, None, CsvHeader(list(ehf.COLUMNS)))),
    ):
        with pytest.raises(DeliveryRejected) as caught:
            attempt()
        assert re.fullmatch(
            r"deep\.xml: not a valid EHF/Peppol BIS 3 invoice or credit note \(elements are "
            r"nested deeper than 256 levels, the XML parser's safety limit "
            r"\(line 1, column \d+\)\)",
            str(caught.value),
        ), str(caught.value)


def test_a_document_of_too_many_elements(tmp_path: Path):
    """A tree of empty elements takes about forty times their bytes: 100 001 of them
    against a limit of 100 000 (the default, 1 000 000, holds about 150 MB)."""
    stuffed = tmp_path / "stuffed.xml"
    stuffed.write_text(f'<Invoice xmlns="{ehf.UBL_INVOICE}">' + "<a/>" * 100_000 + "</Invoice>")
    with pytest.raises(DeliveryRejected) as caught:
        ehf.read_header(stuffed, None, limits=Limits(xml_max_elements=100_000))
    assert str(caught.value) == (
        "stuffed.xml: not a valid EHF/Peppol BIS 3 invoice or credit note (the document holds "
        "more XML elements than limits.xml_max_elements (100 000))"
    )
    assert ehf.read_header(stuffed, None, limits=Limits(xml_max_elements=100_001))


def test_folder_with_a_good_and_a_broken_file(tmp_path: Path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    shutil.copy(NORWEGIAN, folder / "a_good.xml")
    data = NORWEGIAN.read_bytes()
    (folder / "b_broken.xml").write_bytes(data[: len(data) * 3 // 4])
    (folder / "notes.txt").write_text("not part of the delivery")
    assert ehf.read_header(folder, None) == CsvHeader(list(ehf.COLUMNS))
    rows = read(folder)
    assert len(rows) == 6
    assert [r["_source_row"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r["_parse_error"] for r in rows[:5]] == [None] * 5
    assert sum(Decimal(r["amount_excl_vat"]) for r in rows[:5]) == Decimal("1436.5")
    broken = rows[5]
    assert broken["_parse_error"].startswith(
        "file b_broken.xml: not a valid EHF/Peppol BIS 3 invoice or credit note (not well-formed"
    )
    assert broken["_raw_text"] == "b_broken.xml"
    assert all(broken[name] is None for name in ehf.COLUMNS)


def test_folder_of_all_examples_numbers_records_continuously(tmp_path: Path):
    folder = tmp_path / "delivery"
    folder.mkdir()
    for path in EXAMPLES + [CATALOGUE]:
        shutil.copy(path, folder / path.name)
    rows = read(folder, batch_rows=4)
    expected = sum(len(read(path)) for path in EXAMPLES)
    assert len(rows) == expected + 1  # + the catalogue's error row
    assert [r["_source_row"] for r in rows] == list(range(1, len(rows) + 1))
    errors = [r for r in rows if r["_parse_error"]]
    assert len(errors) == 1 and "file Catalogue_Example.xml" in errors[0]["_parse_error"]
    total = sum(Decimal(r["amount_excl_vat"]) for r in rows if not r["_parse_error"])
    assert total == sum(stated_line_total(path) for path in EXAMPLES)


def test_empty_folder_is_rejected(tmp_path: Path):
    with pytest.raises(DeliveryRejected, match=r"no \*\.xml file"):
        ehf.read_header(tmp_path, None)


def rewrite(source: Path, target: Path, change) -> Path:
    tree = etree.parse(str(source))
    change(tree.getroot())
    tree.write(str(target), xml_declaration=True, encoding="UTF-8")
    return target


def test_line_without_amount_is_an_error_row_not_dropped(tmp_path: Path):
    def drop_second_amount(root):
        line = root.findall("cac:InvoiceLine", NS)[1]
        line.remove(line.find("cbc:LineExtensionAmount", NS))
        root.findall("cac:InvoiceLine", NS)[2].find("cbc:LineExtensionAmount", NS).text = "4,96"

    path = rewrite(NORWEGIAN, tmp_path / "broken-lines.xml", drop_second_amount)
    rows = read(path)
    assert len(rows) == 5
    assert rows[1]["_parse_error"] == "document TOSL108 line 2: no LineExtensionAmount"
    assert rows[1]["_raw_text"].startswith("broken-lines.xml: ID=2; Note=Cover is slightly")
    assert rows[1]["amount_excl_vat"] is None and rows[1]["supplier_org_no"] == "123456785"
    assert rows[2]["_parse_error"] == (
        "document TOSL108 line 3: LineExtensionAmount '4,96' is not a number"
    )
    assert [r["_parse_error"] is None for r in rows] == [True, False, False, True, True]


def test_document_without_lines_is_an_error_row(tmp_path: Path):
    def drop_lines(root):
        for line in root.findall("cac:InvoiceLine", NS):
            root.remove(line)

    rows = read(rewrite(NORWEGIAN, tmp_path / "nolines.xml", drop_lines))
    assert len(rows) == 1 and "document TOSL108 has no InvoiceLine" in rows[0]["_parse_error"]


def test_document_totals_for_reconciliation():
    (totals,) = ehf.iter_document_totals(PEPPOL / "Vat-category-S.xml")
    # a document-level charge (200) and allowance (100) are not on any line
    assert totals.line_extension_amount == Decimal("6900")
    assert totals.tax_exclusive_amount == Decimal("7000")
    (credit,) = ehf.iter_document_totals(CREDIT_NOTE)
    assert credit.document_type == "credit_note"
    assert credit.line_extension_amount == Decimal("-1300")


INVOICE_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<{root} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
  xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
  xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:ID>G-1</cbc:ID><cbc:IssueDate>2024-03-01</cbc:IssueDate>
  <cbc:DocumentCurrencyCode>NOK</cbc:DocumentCurrencyCode>
  <cac:AccountingSupplierParty><cac:Party>
    <cbc:EndpointID schemeID="0184">12345674</cbc:EndpointID>
    <cac:PartyName><cbc:Name>Leverandør A/S</cbc:Name></cac:PartyName>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="NOK">{total}</cbc:LineExtensionAmount>
  </cac:LegalMonetaryTotal>
  {lines}
</{root}>
"""


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    amounts=st.lists(
        st.decimals(
            min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False
        ),
        min_size=1,
        max_size=12,
    ),
    credit=st.booleans(),
)
def test_generated_documents_reconcile(tmp_path: Path, amounts: list[Decimal], credit: bool):
    root = "CreditNote" if credit else "Invoice"
    line = "CreditNoteLine" if credit else "InvoiceLine"
    lines = "".join(
        f"<cac:{line}><cbc:ID>{i}</cbc:ID>"
        f'<cbc:LineExtensionAmount currencyID="NOK">{amount}</cbc:LineExtensionAmount>'
        f"<cac:Item><cbc:Name>item {i}</cbc:Name></cac:Item></cac:{line}>"
        for i, amount in enumerate(amounts, 1)
    )
    path = tmp_path / "generated.xml"
    path.write_text(
        INVOICE_TEMPLATE.format(root=root, lines=lines, total=sum(amounts)), encoding="utf-8"
    )
    rows = read(path)
    assert len(rows) == len(amounts)
    assert sum(Decimal(r["amount_excl_vat"]) for r in rows) == stated_line_total(path)
    assert {(r["supplier_org_no"], r["supplier_org_no_scheme"]) for r in rows} == {
        ("12345674", "0184")
    }
    assert all(
        not r["amount_excl_vat"].startswith("-0") or Decimal(r["amount_excl_vat"]) < 0 for r in rows
    )
