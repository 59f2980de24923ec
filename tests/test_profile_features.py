"""Profiles that describe real exports: unpadded days, alternative column names, art mapping
by prefix, supplier and default, and row filters whose rows are excluded, never lost.

Each test loads a small file through the real loader into a DuckDB in tmp_path and reads
back what raw.spend_lines, raw.excluded_rows and raw.rejected_rows hold."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from pipelines.profiles import ProfileError, load_profile
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import write


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(connection)
    yield connection
    connection.close()


def _profile(tmp_path: Path, text: str, name: str = "p.yaml"):
    return load_profile(name, write(tmp_path / name, text).parent)


def _load(con, path: Path, profile, member: str = "5035"):
    return load_spend_file(con, path, member, profile, "NO", "NOK")


def _rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --- dates written without a zero-padded day ---------------------------------------------

DATE_PROFILE = """
    profile: test-dates
    csv: {{delimiter: ";", date_formats: {formats}}}
    fields:
      invoice_id: {{column: Bilag}}
      invoice_date: {{column: Dato}}
      amount_excl_vat: {{column: Beløp}}
"""


@pytest.mark.parametrize(
    ("formats", "written", "expected"),
    [
        ('["%-d%m%Y"]', "1102022", dt.date(2022, 10, 1)),  # the example
        ('["%-d%m%Y"]', "31122022", dt.date(2022, 12, 31)),
        ('["%-d%m%Y"]', "01102022", dt.date(2022, 10, 1)),  # a padded day reads too
        ('["%-d%m%Y"]', "1012022", dt.date(2022, 1, 1)),
        ('["%Y%m%-d"]', "2022101", dt.date(2022, 10, 1)),  # the zero goes where %-d sits
        ('["%-d.%m.%Y"]', "1.10.2022", dt.date(2022, 10, 1)),  # with separators
        ('["%-d.%m.%Y"]', "01.10.2022", dt.date(2022, 10, 1)),
        ('["%-d/%-m/%Y"]', "1/2/2022", dt.date(2022, 2, 1)),
        ('["%d.%m.%Y"]', "2022-10-01", dt.date(2022, 10, 1)),  # ISO is always tried last
        # a format that reads the value as a far-off year gives way to one that reads it
        # as a plausible date, whatever their order
        ('["%Y%m%d", "%-d%m%Y"]', "1102022", dt.date(2022, 10, 1)),
    ],
)
def test_days_without_a_leading_zero(con, tmp_path, formats, written, expected):
    profile = _profile(tmp_path, DATE_PROFILE.format(formats=formats))
    path = write(tmp_path / "d.csv", f"Bilag;Dato;Beløp\nB1;{written};10\n")
    result = _load(con, path, profile)
    assert (result.rows_loaded, result.rows_rejected) == (1, 0), result.message
    assert _rows(con, "SELECT invoice_date FROM raw.spend_lines") == [(expected,)]


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("3213022", "invoice_date '3213022' is not a valid date (%-d%m%Y)"),  # month 13
        (
            "110202",
            "invoice_date '110202' is before 1990-01-01, the earliest plausible invoice date",
        ),  # year 2
        (
            "1101885",
            "invoice_date '1101885' is before 1990-01-01, the earliest plausible invoice date",
        ),
    ],
)
def test_an_impossible_unpadded_date_is_rejected_with_its_reason(con, tmp_path, written, reason):
    profile = _profile(tmp_path, DATE_PROFILE.format(formats='["%-d%m%Y"]'))
    path = write(tmp_path / "d.csv", f"Bilag;Dato;Beløp\nB1;{written};10\n")
    assert _load(con, path, profile).rows_rejected == 1
    assert _rows(con, "SELECT reason FROM raw.rejected_rows") == [(reason,)]


@pytest.mark.parametrize(
    ("formats", "message"),
    [
        ('["%-d%-m%Y"]', "would be ambiguous"),
        ('["%-Y%m%d"]', "only %-d and %-m may be written without padding"),
        ('["dd.mm.yyyy"]', "is not a date format"),
        ('"%d.%m.%Y"', "expected a list"),
    ],
)
def test_date_formats_are_validated(tmp_path, formats, message):
    with pytest.raises(ProfileError, match=rf"p\.yaml: csv\.date_formats.*{message}"):
        _profile(tmp_path, DATE_PROFILE.format(formats=formats))


def test_xlsx_text_and_number_cells_with_unpadded_days(con, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Bilag", "Dato", "Beløp"])
    sheet.append(["B1", "1102022", 10])  # a text cell
    sheet.append(["B2", 31122022, 20])  # a number cell
    sheet.append(["B3", dt.datetime(2022, 3, 4), 30])  # a date cell
    sheet.append(["B4", "1.2.2022", 40])  # with separators, through the second format
    path = tmp_path / "d.xlsx"
    workbook.save(path)
    profile = _profile(
        tmp_path,
        """
        profile: test-xlsx-dates
        format: xlsx
        xlsx: {date_formats: ["%-d%m%Y", "%-d.%m.%Y"]}
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Beløp}
        """,
    )
    result = _load(con, path, profile)
    assert (result.rows_loaded, result.rows_rejected) == (4, 0), result.message
    assert _rows(con, "SELECT invoice_date FROM raw.spend_lines ORDER BY source_row") == [
        (dt.date(2022, 10, 1),),
        (dt.date(2022, 12, 31),),
        (dt.date(2022, 3, 4),),
        (dt.date(2022, 2, 1),),
    ]


# --- alternative column names ------------------------------------------------------------

RENAMING_PROFILE = """
    profile: test-renamed
    csv: {delimiter: ";", decimal: ","}
    fields:
      invoice_id: {column: [Bilag, Bilagsnr]}
      invoice_date: {column: Dato}
      amount_excl_vat: {column: [Beløp, Netto]}
      department: {concat: [[Avdeling, Ansvar], Prosjekt], separator: "/"}
      account: {column: [Konto, Art, Kontonr], optional: true}
    amount: {sign_column: [DK, D/K], negative_values: [K]}
    art: {from_account: {start: 1, length: 3}}
"""


def test_a_column_renamed_between_deliveries_is_read_under_either_name(con, tmp_path):
    profile = _profile(tmp_path, RENAMING_PROFILE)
    first = write(
        tmp_path / "q1.csv",
        "Bilag;Dato;Beløp;Avdeling;Prosjekt;Konto;DK\nB1;2024-01-05;10,00;A1;P1;12000;D\n",
    )
    # renamed, and with both a first and a later alternative: the first one listed wins
    second = write(
        tmp_path / "q2.csv",
        "Bilagsnr;Dato;Netto;Ansvar;Prosjekt;Kontonr;Art;D/K\n"
        "B2;2024-04-05;5,00;A2;P2;99999;11500;K\n",
    )
    # the optional account column under none of its names: the field is empty
    third = write(
        tmp_path / "q3.csv", "Bilag;Dato;Beløp;Avdeling;Prosjekt;DK\nB3;2024-07-05;1,00;A3;P3;D\n"
    )
    for path in (first, second, third):
        assert _load(con, path, profile).rows_loaded == 1
    assert _rows(
        con,
        "SELECT invoice_id, department, account, art, amount_excl_vat FROM raw.spend_lines "
        "ORDER BY invoice_id",
    ) == [
        ("B1", "A1/P1", "12000", "120", Decimal("10.00")),
        ("B2", "A2/P2", "11500", "115", Decimal("-5.00")),
        ("B3", "A3/P3", None, None, Decimal("1.00")),
    ]


def test_a_file_with_none_of_the_alternatives_is_rejected_naming_them(con, tmp_path):
    profile = _profile(tmp_path, RENAMING_PROFILE)
    path = write(
        tmp_path / "q4.csv", "Bilag;Dato;Sum;Avdeling;Prosjekt;DK\nB1;2024-01-05;1,00;A;P;D\n"
    )
    result = _load(con, path, profile)
    assert result.status == "rejected"
    assert "missing required column 'Beløp' or 'Netto' for amount_excl_vat" in result.message
    assert "q4.csv" in result.message


def test_the_column_read_must_not_appear_twice(con, tmp_path):
    profile = _profile(tmp_path, RENAMING_PROFILE)
    path = write(
        tmp_path / "q5.csv",
        "Bilag;Dato;Beløp;Beløp;Avdeling;Prosjekt;DK\nB1;2024-01-05;1;2;A;P;D\n",
    )
    result = _load(con, path, profile)
    assert result.status == "rejected" and "column 'Beløp' appears twice" in result.message


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("[Beløp]", r"fields\.amount_excl_vat\.column: list at least two alternative"),
        ("[Beløp, Beløp]", r"fields\.amount_excl_vat\.column: column 'Beløp' is listed twice"),
        ("[Beløp, {a: b}]", r"fields\.amount_excl_vat\.column: \{'a': 'b'\} is not a column"),
    ],
)
def test_alternatives_are_validated(tmp_path, column, message):
    text = RENAMING_PROFILE.replace("[Beløp, Netto]", column)
    with pytest.raises(ProfileError, match=rf"p\.yaml: {message}"):
        _profile(tmp_path, text)


# --- art mapping: prefix, (account, supplier), supplier only, default ---------------------

MAPPING_PROFILE = """
    profile: test-mapping
    csv: {delimiter: ";"}
    fields:
      invoice_id: {column: Bilag}
      invoice_date: {column: Dato}
      amount_excl_vat: {column: Beløp}
      account: {column: Konto}
      supplier_org_no: {column: Orgnr}
      supplier_name: {column: Leverandør}
    art:
      account_mapping: chart.csv
"""
CHART = """
    account,supplier,art,note
    4*,,120,every 4xxx account ...
    45*,,200,... but 45xx: a longer prefix wins
    4500,,230,an exact code beats every prefix
    45*,Telenor ASA,130,a supplier's row beats the plain row of the same prefix
    4500,NO 923 609 016 MVA,270,"the same, by organisation number as any source writes it"
    ,Kommunekassen,350,supplier only: for lines no account row matches
"""


def _mapping_lines(con, tmp_path, profile_text: str = MAPPING_PROFILE, chart: str = CHART):
    write(tmp_path / "chart.csv", chart)
    profile = _profile(tmp_path, profile_text)
    path = write(
        tmp_path / "d.csv",
        """
        Bilag;Dato;Beløp;Konto;Orgnr;Leverandør
        B1;2024-01-05;1;4100;;Butikken
        B2;2024-01-05;1;4510;;Butikken
        B3;2024-01-05;1;4500;;Butikken
        B4;2024-01-05;1;4510;;  TELENOR\u00a0  asa
        B5;2024-01-05;1;4500;;Telenor ASA
        B6;2024-01-05;1;4500;923609016;Data AS
        B7;2024-01-05;1;;;kommunekassen
        B8;2024-01-05;1;9999;;Kommunekassen
        B9;2024-01-05;1;4100;;Kommunekassen
        B10;2024-01-05;1;9999;;Butikken
        B11;2024-01-05;1;;;
        """,
    )
    result = _load(con, path, profile)
    assert (result.rows_loaded, result.rows_rejected) == (11, 0), result.message
    return dict(_rows(con, "SELECT invoice_id, art FROM raw.spend_lines"))


def test_art_mapping_precedence(con, tmp_path):
    assert _mapping_lines(con, tmp_path) == {
        "B1": "120",  # prefix 4
        "B2": "200",  # the longest prefix, 45
        "B3": "230",  # the exact code
        "B4": "130",  # prefix 45 for this supplier (its name without case or extra spaces)
        "B5": "230",  # an exact code beats the supplier's prefix row
        "B6": "270",  # exact code for this organisation number
        "B7": "350",  # no account: the supplier-only row
        "B8": "350",  # an account no row matches: the supplier-only row
        "B9": "120",  # an account row matches: it beats the supplier-only row
        "B10": None,  # nothing matches: no art (reported in unmapped_codes)
        "B11": None,
    }


def test_art_default_applies_where_nothing_matches(con, tmp_path):
    arts = _mapping_lines(con, tmp_path, MAPPING_PROFILE + '      default: "270"\n')
    assert (arts["B10"], arts["B11"], arts["B1"]) == ("270", "270", "120")


@pytest.mark.parametrize(
    ("art", "value", "expected"),
    [
        ('{column: Art, default: "120"}', "", "120"),
        ('{column: Art, default: "120"}', "115", "115"),
        ('{from_account: {start: 1, length: 3}, default: "120"}', "", "120"),
        ('{default: "120"}', "115", "120"),
    ],
)
def test_a_default_with_the_other_art_rules(con, tmp_path, art, value, expected):
    profile = _profile(
        tmp_path,
        f"""
        profile: test-default
        csv: {{delimiter: ";"}}
        fields:
          invoice_id: {{column: Bilag}}
          invoice_date: {{column: Dato}}
          amount_excl_vat: {{column: Beløp}}
          account: {{column: Konto}}
        art: {art}
        """,
    )
    path = write(tmp_path / "d.csv", f"Bilag;Dato;Beløp;Konto;Art\nB1;2024-01-05;1;;{value}\n")
    assert _load(con, path, profile).rows_loaded == 1
    assert _rows(con, "SELECT art FROM raw.spend_lines") == [(expected,)]


@pytest.mark.parametrize(
    ("chart", "art", "message"),
    [
        ("account,art\n4*5,120\n", "", r"chart\.csv row 1: '4\*5': '\*' may only end a prefix"),
        ("account,art\n*,120\n", "", r"chart\.csv row 1: '\*': '\*' may only end a prefix"),
        ("account,art\n4500,120\n4500,200\n", "", "row 2: account '4500' is mapped twice"),
        (
            "account,supplier,art\n4500,Telenor,120\n4500,TELENOR,200\n",
            "",
            "row 2: account '4500' with supplier 'TELENOR' is mapped twice",
        ),
        ("account,art\n4500,12\n", "", "row 1: art '12' is not a 3-digit KOSTRA art"),
        ("account,art\n,120\n", "", "row 1: art and an account or a supplier are required"),
        ("konto,art\n4500,120\n", "", "chart.csv needs the columns account,art"),
    ],
)
def test_art_mappings_are_validated(tmp_path, chart, art, message):
    write(tmp_path / "chart.csv", chart)
    with pytest.raises(ProfileError, match=rf"p\.yaml: art\.account_mapping: .*{message}"):
        _profile(tmp_path, MAPPING_PROFILE + art)


@pytest.mark.parametrize(
    ("art", "message"),
    [
        ("      default: 120\n", r"art\.default: 120 is not a 3-digit KOSTRA art in quotes"),
        ("      default: '12'\n", r"art\.default: '12' is not a 3-digit KOSTRA art"),
        ("      column: Art\n", r"art: give one of column, from_account or account_mapping"),
    ],
)
def test_art_rules_are_validated(tmp_path, art, message):
    write(tmp_path / "chart.csv", "account,art\n4500,120\n")
    with pytest.raises(ProfileError, match=rf"p\.yaml: {message}"):
        _profile(tmp_path, MAPPING_PROFILE + art)


def test_the_same_mapping_row_twice_is_accepted(tmp_path):
    write(tmp_path / "chart.csv", "account,art\n4500,120\n4500,120\n")
    assert len(_profile(tmp_path, MAPPING_PROFILE).art.account_mapping) == 1


def test_supplier_rows_need_a_supplier_field(tmp_path):
    write(tmp_path / "chart.csv", "account,supplier,art\n,Telenor,130\n")
    text = MAPPING_PROFILE.replace("      supplier_org_no: {column: Orgnr}\n", "").replace(
        "      supplier_name: {column: Leverandør}\n", ""
    )
    with pytest.raises(ProfileError, match="supplier column needs fields.supplier_name or"):
        _profile(tmp_path, text)
    # either supplier field will do
    assert _profile(
        tmp_path, text.replace("fields:\n", "fields:\n      supplier_org_no: {column: O}\n")
    )


# --- row filters: excluded, with a reason, never lost ------------------------------------

FILTER_PROFILE = """
    profile: test-filters
    csv: {delimiter: ";", decimal: ","}
    fields:
      invoice_id: {column: Bilag}
      invoice_date: {column: Dato}
      amount_excl_vat: {column: Beløp}
      account: {column: Konto}
    art: {from_account: {start: 1, length: 3}}
    exclude_rows:
      - {column: Type, equals: " income ", reason: "income, not spend"}
      - column: [Konto, Kontonr]
        matches: '^[12]'
        reason: balance sheet (classes 1-2)
      - column: Type
        one_of: [Overføring, Internal]
        reason: internal transfer
      - all:
          - {column: Type, not_one_of: [Faktura, Kreditnota, Income]}
          - {column: Konto, empty: true}
        reason: neither an invoice nor a credit note, and no account
"""


def test_excluded_rows_are_kept_with_their_reason_and_counted(con, tmp_path):
    profile = _profile(tmp_path, FILTER_PROFILE)
    path = write(
        tmp_path / "d.csv",
        """
        Bilag;Dato;Beløp;Konto;Type
        B1;2024-01-05;100,00;41000;Faktura
        B2;2024-01-05;-50,00;36000;INCOME
        B3;2024-01-05;75,50;15000;Faktura
        B4;2024-01-05;5,00;20000;Income
        B5;2024-01-05;3,00;47000;overføring
        B6;2024-01-05;7,00;;Purring
        B7;2024-01-05;8,00;;Kreditnota
        B8;2024-01-05;tolv;37000;Income
        B9;30.02.2024;9,00;41000;Faktura
        B10;2024-01-05;1,00;41000
        """,
    )
    result = _load(con, path, profile)
    assert (result.rows_read, result.rows_loaded, result.rows_excluded, result.rows_rejected) == (
        10,
        2,
        6,
        2,
    )
    assert result.message == "2 rows loaded, 6 excluded, 2 rejected"
    assert _rows(
        con,
        "SELECT source_row, reason, amount_excl_vat, municipality_id, source_file "
        "FROM raw.excluded_rows ORDER BY source_row",
    ) == [
        (2, "income, not spend", Decimal("-50.00"), "5035", str(path)),
        (3, "balance sheet (classes 1-2)", Decimal("75.50"), "5035", str(path)),
        (4, "income, not spend", Decimal("5.00"), "5035", str(path)),  # the first entry wins
        (5, "internal transfer", Decimal("3.00"), "5035", str(path)),
        (
            6,
            "neither an invoice nor a credit note, and no account",
            Decimal("7.00"),
            "5035",
            str(path),
        ),
        (8, "income, not spend", None, "5035", str(path)),  # excluded, amount unreadable
    ]
    raw_row = _rows(con, "SELECT raw_row FROM raw.excluded_rows WHERE source_row = 2")[0][0]
    assert '"Type":"INCOME"' in raw_row
    assert _rows(con, "SELECT invoice_id FROM raw.spend_lines ORDER BY 1") == [("B1",), ("B7",)]
    # a row that cannot be split into its columns is rejected, even where an exclusion
    # that tests for an empty value would hold
    assert _rows(con, "SELECT source_row, reason FROM raw.rejected_rows ORDER BY 1") == [
        (9, "invoice_date '30.02.2024' is not a valid date (%Y-%m-%d)"),
        (10, "line 11: the row has 4 fields, the header has 5"),
    ]
    recorded = _rows(
        con, "SELECT rows_read, rows_loaded, rows_rejected, rows_excluded FROM raw.deliveries"
    )
    assert recorded == [(10, 2, 2, 6)]


def test_a_filter_column_missing_from_the_file_rejects_the_delivery(con, tmp_path):
    profile = _profile(tmp_path, FILTER_PROFILE)
    path = write(tmp_path / "d.csv", "Bilag;Dato;Beløp;Konto\nB1;2024-01-05;1,00;41000\n")
    result = _load(con, path, profile)
    assert result.status == "rejected"
    assert "missing required column 'Type' for exclude_rows[0]" in result.message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{column: Type, equals: x}", r"\[0\]\.reason: say why"),
        ("{column: Type, reason: r}", r"\[0\]: give exactly one test of equals"),
        ("{column: Type, equals: x, empty: true, reason: r}", r"\[0\]: give exactly one test"),
        ("{equals: x, reason: r}", r"\[0\]: name the source column"),
        ("{column: Type, equals: 4500, reason: r}", r"\[0\]\.equals: write 4500 in quotes"),
        ("{column: Type, one_of: x, reason: r}", r"\[0\]\.one_of: expected a list of values"),
        ("{column: Type, empty: yes, reason: r}", r"\[0\]\.empty: expected true or false"),
        ("{column: Type, matches: '(ab', reason: r}", r"\[0\]\.matches: '\(ab' is not a valid"),
        ("{column: Type, matches: '(?=a)', reason: r}", r"\[0\]\.matches: .* is not a valid"),
        ("{column: Type, contains: x, reason: r}", r"\[0\]: unknown key 'contains'"),
        ("{column: [Type], equals: x, reason: r}", r"\[0\]\.column: list at least two"),
        ("{all: [], reason: r}", r"\[0\]\.all: expected a list of conditions"),
        ("{all: [{column: T, equals: x}], column: T, reason: r}", r"\[0\]: give either 'all'"),
        ("{all: [{column: T, equals: x, reason: r}], reason: r}", r"\[0\]\.all\[0\]: unknown"),
    ],
)
def test_row_filters_are_validated(tmp_path, entry, message):
    text = FILTER_PROFILE[: FILTER_PROFILE.index("    exclude_rows:")] + (
        f"    exclude_rows:\n      - {entry}\n"
    )
    with pytest.raises(ProfileError, match=rf"p\.yaml: exclude_rows{message}"):
        _profile(tmp_path, text)


GOOD = "B{n};2024-03-05;{amount};41000;Faktura"
ROWS = {
    "income": ("B{n};2024-03-05;{amount};36000;Income", "excluded"),
    "balance": ("B{n};2024-03-05;{amount};15000;Faktura", "excluded"),
    "bad_date": ("B{n};2024-02-30;{amount};41000;Faktura", "rejected"),
    "no_id": (";2024-03-05;{amount};41000;Faktura", "rejected"),
    "short": ("B{n};2024-03-05", "rejected"),
}
amounts = st.decimals(
    min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["good", *ROWS]), amounts), min_size=1, max_size=30))
def test_every_row_is_loaded_excluded_or_rejected_and_the_amounts_reconcile(generated):
    """Whatever the mix: rows read = loaded + excluded + rejected, and loaded + excluded +
    the readable amounts of rejected rows = the file's own total."""
    expected = {"loaded": Decimal(0), "excluded": Decimal(0), "rejected": Decimal(0)}
    lines = []
    for n, (kind, amount) in enumerate(generated):
        template, outcome = (GOOD, "loaded") if kind == "good" else ROWS[kind]
        lines.append(template.format(n=n, amount=str(amount).replace(".", ",")))
        if kind != "short":
            expected[outcome] += amount
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        profile = _profile(tmp, FILTER_PROFILE)
        path = write(tmp / "d.csv", "Bilag;Dato;Beløp;Konto;Type\n" + "\n".join(lines) + "\n")
        con = duckdb.connect(str(tmp / "w.duckdb"))
        try:
            create_raw_schema(con)
            result = _load(con, path, profile)
            loaded, excluded = (
                con.execute(
                    f"SELECT coalesce(sum(amount_excl_vat), 0) FROM raw.{table}"
                ).fetchone()[0]
                for table in ("spend_lines", "excluded_rows")
            )
            rejected_rows = con.execute("SELECT raw_row FROM raw.rejected_rows").fetchall()
        finally:
            con.close()
    assert result.rows_read == len(generated)
    assert result.rows_read == result.rows_loaded + result.rows_excluded + result.rows_rejected
    assert result.rows_rejected == len(rejected_rows)
    assert (loaded, excluded) == (expected["loaded"], expected["excluded"])
    file_total = sum(a for kind, a in generated if kind != "short")
    assert loaded + excluded + expected["rejected"] == file_total
