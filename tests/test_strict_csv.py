"""Strict CSV: every physical line of a delivery is a blank line or part of exactly one
record; a quote never merges the next invoice into a row that loads, and every message
names the line as a text editor numbers it.

(tests/test_csv_lines_property.py proves the same over generated damage.)"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.profiles import ProfileError, load_profile
from pipelines.spend_loader import load_spend_file
from tests.conftest import CANONICAL_HEADER, write

PROFILE = """
profile: test-strict
csv: {{encoding: utf-8, delimiter: ";", decimal: ",", date_formats: ["%d.%m.%Y"]{extra}}}
fields:
  invoice_id: {{column: Bilag}}
  invoice_date: {{column: Dato}}
  supplier_name: {{column: Leverandør}}
  amount_excl_vat: {{column: Beløp}}
  description: {{column: Tekst}}
"""
HEADER = "Bilag;Dato;Leverandør;Beløp;Tekst"


def _profile(tmp_path: Path, extra: str = ""):
    return load_profile("p.yaml", write(tmp_path / "p.yaml", PROFILE.format(extra=extra)).parent)


def _file(tmp_path: Path, body: str, newline: str = "\r\n", name: str = "d.csv") -> Path:
    path = tmp_path / name
    lines = [HEADER, *body.split("\n")]
    path.write_bytes(newline.join(lines).encode())
    return path


def _load(con, path: Path, profile):
    return load_spend_file(con, path, "5035", profile, "NO", "NOK")


def _loaded(con) -> list[tuple]:
    return con.execute(
        "SELECT invoice_id, description, amount_excl_vat FROM raw.spend_lines ORDER BY source_row"
    ).fetchall()


def _rejected(con) -> list[tuple]:
    return con.execute(
        "SELECT source_row, reason, raw_row FROM raw.rejected_rows ORDER BY source_row"
    ).fetchall()


SWALLOWING = (  # the case: an unclosed quote at the start of a field (line 3)
    "1;01.03.2024;Kontor AS;100,00;Papir\n"
    '2;02.03.2024;"Bygg AS;200,00;Sement\n'
    '3;03.03.2024;"Data AS";300,00;"PC"\n'
)


@pytest.mark.parametrize("extra", ["", ", multiline_fields: true", ", multiline_fields: false"])
def test_an_unclosed_quote_never_swallows_the_next_invoice(con, tmp_path, extra):
    result = _load(con, _file(tmp_path, SWALLOWING), _profile(tmp_path, extra))
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == (
        "loaded",
        3,
        2,
        1,
    )
    assert _loaded(con) == [("1", "Papir", Decimal("100")), ("3", "PC", Decimal("300"))]
    ((row, reason, raw),) = _rejected(con)
    assert raw == '2;02.03.2024;"Bygg AS;200,00;Sement'  # the line as the file has it
    if "false" in extra:
        assert reason == (
            "line 3: the quote that opens field 3 ('Leverandør') is not closed on that line "
            "(csv.multiline_fields is false)"
        )
    else:
        assert reason == (
            "line 3: the quote that opens field 3 ('Leverandør') runs into line 4, which is a "
            "record of its own (a quote that is not closed?)"
        )


def test_quoted_line_breaks_load_by_default_and_the_message_counts_the_lines(con, tmp_path):
    body = '1;01.03.2024;Kontor AS;100,00;"Papir\nog blekk\r\nog mer"\n\n2;02.03.2024;A;5,00;x\n'
    result = _load(con, _file(tmp_path, body, newline="\n"), _profile(tmp_path))
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 2, 2)
    assert _loaded(con)[0] == ("1", "Papir\nog blekk\r\nog mer", Decimal("100"))
    assert result.message == (
        "2 rows loaded (lines 2-6: 2 records, 1 of them over several lines (quoted line "
        "breaks: 2 more lines), 1 blank line (no record))"
    )


def test_without_multiline_fields_a_quoted_line_break_is_rejected_line_by_line(con, tmp_path):
    body = '1;01.03.2024;Kontor AS;100,00;"Papir\nog blekk";x\n2;02.03.2024;A;5,00;x'
    profile = _profile(tmp_path, ", multiline_fields: false")
    result = _load(con, _file(tmp_path, body), profile)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert [(row, reason) for row, reason, _ in _rejected(con)] == [
        (
            1,
            "line 2: the quote that opens field 5 ('Tekst') is not closed on that line "
            "(csv.multiline_fields is false)",
        ),
        (2, "line 3: the row has 2 fields, the header has 5"),
    ]


def test_a_record_may_not_run_over_more_than_max_record_lines(con, tmp_path):
    body = '1;01.03.2024;Kontor AS;100,00;"a\nb\nc\nd\ne"\n2;02.03.2024;A;5,00;x'
    result = _load(con, _file(tmp_path, body), _profile(tmp_path, ", max_record_lines: 3"))
    # line 2 is rejected, lines 3-6 are read again each as what it is: short rows
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 1, 5)
    reasons = [reason for _, reason, _ in _rejected(con)]
    assert reasons[0] == (
        "line 2: the quote that opens field 5 ('Tekst') is not closed within 3 lines "
        "(csv.max_record_lines)"
    )
    assert reasons[1:] == [f"line {n}: the row has 1 field, the header has 5" for n in (3, 4, 5, 6)]


def test_a_quote_closed_in_the_middle_of_a_field_cannot_merge_lines(con, tmp_path):
    """A stray quote that a later line's quote closes (not where a field ends) is no
    multi-line field: the line is rejected, the next read again."""
    body = '1;01.03.2024;"Kontor AS;100,00;Papir\ngarbage "x\n2;02.03.2024;A;5,00;x'
    result = _load(con, _file(tmp_path, body), _profile(tmp_path))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert [reason for _, reason, _ in _rejected(con)] == [
        "line 2: the quote that opens field 3 ('Leverandør') runs over lines 2-3 and does not "
        "close where a field ends (';' expected after '\"'): a quote that is not closed?",
        "line 3: the row has 1 field, the header has 5",
    ]


def test_a_quote_never_closed_before_the_end_of_the_file(con, tmp_path):
    body = '1;01.03.2024;Kontor AS;100,00;x\n2;02.03.2024;A;5,00;"never\nclosed'
    result = _load(con, _file(tmp_path, body), _profile(tmp_path))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 1, 2)
    assert [reason for _, reason, _ in _rejected(con)] == [
        "line 3: the quote that opens field 5 ('Tekst') is never closed",
        "line 4: the row has 1 field, the header has 5",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_are_the_editors_whatever_the_line_ends(con, tmp_path, newline):
    body = "1;01.03.2024;A;1,00;x\n\n\n2;02.03.2024;A;2,00\n3;03.03.2024;A;3,00;x"
    result = _load(con, _file(tmp_path, body, newline=newline), _profile(tmp_path))
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert _rejected(con)[0][1] == "line 5: the row has 4 fields, the header has 5"
    assert "2 blank lines (no record)" in result.message


def test_mixed_line_ends_and_a_header_below_a_preamble(con, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(
        b"Export from ERP\r\n\r\n"
        + HEADER.encode()
        + b"\n1;01.03.2024;A;1,00;x\r2;02.03.2024;A;2,00;x;y\r\n3;03.03.2024;A;3,00;x"
    )
    profile = _profile(tmp_path, ", header_row: 3")
    result = _load(con, path, profile)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (3, 2, 1)
    assert _rejected(con)[0][1] == "line 5: the row has 6 fields, the header has 5"


def test_a_byte_of_another_encoding_rejects_the_file_naming_its_line(con, tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(
        (HEADER + "\n1;01.03.2024;A;1,00;x\n").encode()
        + "2;02.03.2024;Bøker;2,00;x\n".encode("cp1252")
    )
    result = _load(con, path, _profile(tmp_path))
    assert result.status == "rejected"
    assert result.message == (
        "d.csv: line 3: cannot be read as utf-8 (byte b'\\xf8' is not valid there); "
        "check the profile's csv.encoding"
    )


def test_nul_characters_in_the_header_and_in_values_load(con, tmp_path):
    """A NUL character in a column name once made the loader's SQL fail."""
    path = write(
        tmp_path / "nul.csv",
        CANONICAL_HEADER
        + ",note\x00s\n5035,F1,1,2024-03-05,923609016,Da\x00ta AS,11500,115,10,NOK,,,,,,z\n"
        + "5035,F2,1,2024-03-05,923609016,Data AS,11500,115,ti,NOK,,,,,,z\n",
    )
    result = load_spend_file(con, path, "5035", load_profile("canonical", tmp_path), "NO", "NOK")
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 1, 1)
    assert con.execute("SELECT supplier_name FROM raw.spend_lines").fetchone()[0] == "Da\x00ta AS"
    # the rejected row is the line as delivered (line 3 of the file)
    assert _rejected(con)[0][2] == path.read_text(encoding="utf-8").splitlines()[2]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (", multiline_fields: yes", r"csv\.multiline_fields: expected true or false"),
        (", max_record_lines: 1", r"csv\.max_record_lines: must be a whole number of lines ≥ 2"),
        (", max_record_lines: true", r"csv\.max_record_lines: must be a whole number"),
    ],
)
def test_the_csv_options_are_validated(tmp_path, extra, message):
    with pytest.raises(ProfileError, match=message):
        _profile(tmp_path, extra)


def test_a_date_format_duckdb_cannot_read_is_a_profile_error(tmp_path):
    text = PROFILE.format(extra="").replace('["%d.%m.%Y"]', '["%d.%m.%Q"]')
    with pytest.raises(ProfileError, match=r"csv\.date_formats\[0\]: '%d\.%m\.%Q' is not a date"):
        load_profile("p.yaml", write(tmp_path / "p.yaml", text).parent)
