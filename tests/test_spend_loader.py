"""The spend loader: every delivered row loaded or rejected with a reason; sums reconcile."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.profiles import ProfileError, load_profile
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import CANONICAL_HEADER, write

ERP_PROFILE = """
profile: test-erp
format: csv
csv:
  encoding: cp1252
  delimiter: ";"
  decimal: ","
  thousands: " "
  date_formats: ["%d.%m.%Y"]
country: NO
currency: NOK
fields:
  invoice_id: {column: Bilagsnr}
  line_no: {column: Linje}
  invoice_date: {column: Fakturadato}
  supplier_org_no: {column: Orgnr}
  supplier_name: {column: Leverandør}
  account: {column: Konto}
  amount_excl_vat: {column: Beløp eks mva}
art:
  from_account: {start: 2, length: 3}
"""
ERP_HEADER = "Bilagsnr;Linje;Fakturadato;Orgnr;Leverandør;Konto;Beløp eks mva"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(connection)
    yield connection
    connection.close()


@pytest.fixture
def erp(tmp_path: Path):
    return load_profile("erp.yaml", write(tmp_path / "erp.yaml", ERP_PROFILE).parent)


def _load(con, path: Path, profile, member: str = "5032"):
    return load_spend_file(con, path, member, profile, "NO", "NOK")


def _erp_file(tmp_path: Path, body: str, name: str = "d.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    text = ERP_HEADER + "\r\n" + body
    data = text.encode("cp1252")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def test_erp_dialect_decimal_comma_thousands_quotes_and_art_from_account(con, tmp_path, erp):
    path = _erp_file(
        tmp_path,
        (
            '1;1;01.02.2024;NO 923 609 016 MVA;"Bøker; og papir AS";411500;1 234,50\r\n'
            '2;1;02.02.2024;12345;"Linje\nmed linjeskift";412000;-5,25\r\n'
        ),
    )
    result = _load(con, path, erp)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        2,
        2,
        0,
    )
    rows = con.execute(
        "SELECT supplier_name, supplier_org_no, is_supplier_org_no_valid, art, amount_excl_vat "
        "FROM raw.spend_lines ORDER BY source_row"
    ).fetchall()
    assert rows == [
        ("Bøker; og papir AS", "923609016", True, "115", Decimal("1234.50")),
        ("Linje\nmed linjeskift", None, False, "120", Decimal("-5.25")),
    ]


def test_row_level_problems_go_to_rejected_rows_and_the_rest_loads(con, tmp_path, erp):
    path = _erp_file(
        tmp_path,
        (
            "1;1;30.02.2024;923609016;A;411500;10,00\r\n"  # impossible date
            "2;1;01.03.2024;923609016;A;411500;ti kroner\r\n"  # not a number
            ";1;01.03.2024;923609016;A;411500;10,00\r\n"  # missing invoice id
            "4;1;01.03.2024\r\n"  # too few fields
            "5;1;01.03.2024;923609016;A;411500;99,90\r\n"
        ),
    )
    result = _load(con, path, erp)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (5, 1, 4)
    assert result.amount_loaded == Decimal("99.90")
    reasons = dict(
        con.execute(
            "SELECT source_row, reason FROM raw.rejected_rows ORDER BY source_row"
        ).fetchall()
    )
    assert reasons[1] == "invoice_date '30.02.2024' is not a valid date (%d.%m.%Y)"
    assert reasons[2] == "amount_excl_vat 'ti kroner' is not a number (decimal separator ,)"
    assert reasons[3] == "missing required value: invoice_id (column 'Bilagsnr')"
    assert reasons[4] == "line 5: the row has 3 fields, the header has 7"
    raw, line = con.execute(
        "SELECT raw_row, source_line FROM raw.rejected_rows WHERE source_row = 2"
    ).fetchone()
    assert (raw, line) == ("2;1;01.03.2024;923609016;A;411500;ti kroner", 3)  # as delivered


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (ERP_HEADER.encode("cp1252") + b"\r\n", "has a header but no data rows"),
        (b"Bilagsnr;Linje\r\n1;2\r\n", "missing required column 'Fakturadato'"),
    ],
)
def test_file_level_problems_reject_the_delivery_whole(con, tmp_path, erp, content, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    result = _load(con, path, erp)
    assert result.status == "rejected"
    assert message in result.message and "broken.csv" in result.message
    status = con.execute("SELECT status, message FROM raw.deliveries").fetchone()
    assert status[0] == "rejected" and message in status[1]
    assert con.execute("SELECT count(*) FROM raw.spend_lines").fetchone()[0] == 0


def test_wrong_encoding_rejects_the_delivery_and_keeps_earlier_data(con, tmp_path, erp):
    good = _erp_file(tmp_path, "1;1;01.02.2024;923609016;A;411500;10,00\r\n", "jan.csv")
    assert _load(con, good, erp).status == "loaded"
    utf8_profile = load_profile(
        "u.yaml", write(tmp_path / "u.yaml", ERP_PROFILE.replace("cp1252", "utf-8")).parent
    )
    bad = _erp_file(tmp_path, "2;1;01.03.2024;923609016;Bø;411500;10,00\r\n", "feb.csv")
    result = _load(con, bad, utf8_profile)
    assert result.status == "rejected"
    assert "cannot be read as utf-8" in result.message
    assert con.execute("SELECT count(*) FROM raw.spend_lines").fetchone()[0] == 1


def test_utf8_with_byte_order_mark(con, tmp_path):
    profile = load_profile("canonical", tmp_path)
    path = tmp_path / "bom.csv"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (
            CANONICAL_HEADER + "\n5037,F1,1,2024-03-05,923609016,Data AS,11500,115,10.5,NOK,,,,,\n"
        ).encode()
    )
    result = _load(con, path, profile, member="5037")
    assert (result.status, result.rows_loaded) == ("loaded", 1)


def test_a_row_of_another_member_is_rejected(con, tmp_path):
    profile = load_profile("canonical", tmp_path)
    path = write(
        tmp_path / "s.csv",
        CANONICAL_HEADER + "\n5032,F1,1,2024-03-05,923609016,Data AS,11500,115,10.5,NOK,,,,,\n",
    )
    result = _load(con, path, profile, member="5037")
    assert result.rows_rejected == 1
    reason = con.execute("SELECT reason FROM raw.rejected_rows").fetchone()[0]
    assert reason == "municipality_id '5032' does not match the delivering member 5037"


def test_same_file_again_is_skipped_and_a_copy_under_another_name_is_recorded(con, tmp_path, erp):
    body = "1;1;01.02.2024;923609016;A;411500;10,00\r\n"
    first = _erp_file(tmp_path, body, "jan.csv")
    copy = _erp_file(tmp_path, body, "jan-again.csv")
    assert _load(con, first, erp).status == "loaded"
    assert _load(con, first, erp).status == "skipped_duplicate"
    again = _load(con, copy, erp)
    assert again.status == "skipped_duplicate" and "same content as jan.csv" in again.message
    assert con.execute("SELECT count(*) FROM raw.spend_lines").fetchone()[0] == 1


def test_unknown_profile_key_names_the_file_and_key(tmp_path):
    write(tmp_path / "bad.yaml", ERP_PROFILE + "colour: blue\n")
    with pytest.raises(ProfileError, match=r"bad\.yaml: top level: unknown key 'colour'"):
        load_profile("bad.yaml", tmp_path)


def test_files_without_a_declared_period_add_up_whatever_their_dates(con, tmp_path, erp):
    """Dates never decide a replacement: March's file holds a late February invoice."""
    february = _erp_file(
        tmp_path,
        "1;1;01.02.2024;923609016;A;411500;10,00\r\n2;1;28.02.2024;923609016;A;411500;10,00\r\n",
        "feb.csv",
    )
    march = _erp_file(
        tmp_path,
        "3;1;27.02.2024;923609016;A;411500;10,00\r\n4;1;15.03.2024;923609016;A;411500;10,00\r\n",
        "mars.csv",
    )
    for path in (february, march):
        assert _load(con, path, erp).status == "loaded"
    assert con.execute("SELECT count(*) FROM raw.delivery_replacements").fetchone()[0] == 0


def test_concatenation_sign_column_and_gross_amounts_with_vat(con, tmp_path):
    profile = load_profile(
        "g.yaml",
        write(
            tmp_path / "g.yaml",
            """
        profile: test-gross
        format: csv
        csv: {delimiter: ";", decimal: ",", date_formats: ["%d.%m.%Y"]}
        fields:
          invoice_id: {concat: [Avd, Bilag], separator: "/"}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Brutto}
          account: {column: Konto}
        amount: {sign_column: DK, negative_values: [K, kredit], vat_column: Mva}
        art: {from_account: {start: 1, length: 3}}
    """,
        ).parent,
    )
    path = write(
        tmp_path / "g.csv",
        """
        Avd;Bilag;Dato;Brutto;Mva;DK;Konto
        12;100;01.03.2024;1250,00;250,00;D;11500
        12;101;02.03.2024;625,00;125,00;K;11500
        12;102;03.03.2024;100,00;;D;11500
        12;103;04.03.2024;100,00;tjue;D;11500
    """,
    )
    result = load_spend_file(con, path, "5032", profile, "NO", "NOK")
    assert (result.rows_loaded, result.rows_rejected) == (3, 1)
    assert con.execute(
        "SELECT invoice_id, amount_excl_vat FROM raw.spend_lines ORDER BY source_row"
    ).fetchall() == [
        ("12/100", Decimal("1000.00")),
        ("12/101", Decimal("-500.00")),
        ("12/102", Decimal("100.00")),
    ]
    reason = con.execute("SELECT reason FROM raw.rejected_rows").fetchone()[0]
    assert reason == "VAT (column 'Mva') is not a number"


def test_profile_amount_rules_are_validated(tmp_path):
    write(tmp_path / "bad.yaml", ERP_PROFILE + "amount: {sign_column: DK}\n")
    with pytest.raises(ProfileError, match="sign_column and negative_values go together"):
        load_profile("bad.yaml", tmp_path)


def test_optional_fields_of_format_v1_1_load_when_present_and_are_empty_when_absent(con, tmp_path):
    profile = load_profile("canonical", tmp_path)
    with_prices = write(
        tmp_path / "v11.csv",
        CANONICAL_HEADER
        + ",department,seller_item_id,quantity,unit_price"
        + "\n5037,F1,1,2024-03-05,923609016,Data AS,11500,115,25.50,NOK,,,,,,"
        + "2000,ART-7,3,8.5"
        + "\n5037,F1,2,2024-03-05,923609016,Data AS,11500,115,10.00,NOK,,,,,,"
        + "2000,ART-8,many,2.5\n",
    )
    without = write(
        tmp_path / "v1.csv",
        CANONICAL_HEADER + "\n5037,F2,1,2024-04-05,923609016,Data AS,11500,115,7.00,NOK,,,,,\n",
    )
    first = _load(con, with_prices, profile, member="5037")
    second = _load(con, without, profile, member="5037")
    assert (first.rows_loaded, first.rows_rejected, second.rows_loaded) == (1, 1, 1)
    assert con.execute(
        "SELECT invoice_id, department, seller_item_id, quantity, unit_price "
        "FROM raw.spend_lines ORDER BY invoice_id"
    ).fetchall() == [
        ("F1", "2000", "ART-7", Decimal("3"), Decimal("8.5")),
        ("F2", None, None, None, None),
    ]
    assert con.execute("SELECT reason FROM raw.rejected_rows").fetchone()[0] == (
        "quantity 'many' is not a number (decimal separator .)"
    )


def test_only_a_column_of_an_optional_field_can_be_optional(tmp_path):
    text = ERP_PROFILE.replace(
        "fields:\n", "fields:\n  description: {constant: x, optional: true}\n"
    )
    with pytest.raises(ProfileError, match=r"fields\.description\.optional"):
        load_profile("p.yaml", write(tmp_path / "p.yaml", text).parent)
    text = ERP_PROFILE.replace("{column: Bilagsnr}", "{column: Bilagsnr, optional: true}")
    with pytest.raises(ProfileError, match=r"fields\.invoice_id\.optional"):
        load_profile("p.yaml", write(tmp_path / "p.yaml", text).parent)


def test_a_warehouse_of_an_earlier_version_gets_the_new_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE SCHEMA raw")
    old.execute("CREATE TABLE raw.spend_lines (delivery_id VARCHAR, loaded_at TIMESTAMP)")
    old.execute("INSERT INTO raw.spend_lines VALUES ('D1', '2024-01-01')")
    create_raw_schema(old)
    columns = [row[0] for row in old.execute("DESCRIBE raw.spend_lines").fetchall()]
    assert columns[-7:] == [
        "department",
        "seller_item_id",
        "quantity",
        "unit_price",
        "local_supplier_id",
        "spend_line_key",
        "source_line",
    ]
    assert old.execute("SELECT delivery_id, unit_price FROM raw.spend_lines").fetchall() == [
        ("D1", None)
    ]
    old.close()
