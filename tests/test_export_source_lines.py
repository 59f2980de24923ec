"""Traceable to the source line: every loaded and rejected row of a CSV delivery carries
its line in the file as a text editor counts it (header included; a record over several
lines: where it starts), and a rejected row's raw_row is the delivered line(s) exactly,
decoded with the profile's encoding. Both CSV paths: DuckDB's fast reader and the exact
reader it falls back to."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines import spend_loader
from pipelines.profiles import load_profile
from pipelines.spend_loader import load_spend_file
from tests.conftest import write

PROFILE = """
profile: latin
csv: {{delimiter: ";", encoding: {encoding}}}
fields:
  invoice_id: {{column: Bilag}}
  invoice_date: {{column: Dato}}
  amount_excl_vat: {{column: Beløp}}
  description: {{column: Tekst}}
"""
HEADER = "Bilag;Dato;Beløp;Tekst"


def _load(con, tmp_path: Path, content: bytes, encoding: str = "utf-8"):
    profile_path = write(tmp_path / "latin.yaml", PROFILE.format(encoding=encoding))
    path = tmp_path / "spend.csv"
    path.write_bytes(content)
    profile = load_profile("latin.yaml", profile_path.parent)
    return load_spend_file(con, path, "5035", profile, "NO", "NOK", today=date(2025, 1, 1))


def _lines(con) -> dict[str, int]:
    return dict(con.execute("SELECT invoice_id, source_line FROM raw.spend_lines").fetchall())


def _rejected(con) -> list[tuple[int, int, str]]:
    return con.execute(
        "SELECT source_row, source_line, raw_row FROM raw.rejected_rows ORDER BY source_row"
    ).fetchall()


def test_the_fast_path_gives_each_line_its_number_and_the_rejected_line_as_delivered(
    con, tmp_path, monkeypatch
):
    def no_exact_reader(*args, **kwargs):
        raise AssertionError("the fast path declined this file")

    monkeypatch.setattr(spend_loader, "_stage_batches", no_exact_reader)
    content = (
        f"{HEADER}\r\nB1;2024-03-05;10.50;Brød\r\nB2;2024-03-05;ti kroner;  spaced \r\n"
        "B3;2024-03-06;12;=cmd\r\n"
    ).encode()
    result = _load(con, tmp_path, content)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    assert _lines(con) == {"B1": 2, "B3": 4}
    assert _rejected(con) == [(2, 3, "B2;2024-03-05;ti kroner;  spaced ")]


def test_the_exact_reader_counts_blank_lines_and_quoted_line_breaks(con, tmp_path):
    content = (
        f"{HEADER}\n"  # line 1
        "B1;2024-03-05;10;a\n"  # 2
        "\n"  # 3: blank
        'B2;2024-03-05;11;"two\r\nlines"\n'  # 4-5: one record
        'B3;2024-03-05;"ti\nkroner";x\n'  # 6-7: rejected, both lines as delivered
        "B4;2024-03-05;13;d\n"  # 8
    ).encode()
    result = _load(con, tmp_path, content)
    assert (result.rows_loaded, result.rows_rejected) == (3, 1)
    assert _lines(con) == {"B1": 2, "B2": 4, "B4": 8}
    assert _rejected(con) == [(3, 6, 'B3;2024-03-05;"ti\nkroner";x')]


@pytest.mark.parametrize("fast", [True, False])
def test_the_rejected_line_is_decoded_with_the_profiles_encoding(con, tmp_path, fast):
    line = "B2;2024-03-05;ti kroner;Bøker og blyanter æøå"
    blank = "" if fast else "\r\n"  # a blank line sends the file to the exact reader
    content = f"{HEADER}\r\nB1;2024-03-05;1;x\r\n{blank}{line}\r\n".encode("cp1252")
    result = _load(con, tmp_path, content, encoding="cp1252")
    assert (result.rows_loaded, result.rows_rejected) == (1, 1)
    assert _rejected(con) == [(2, 3 if fast else 4, line)]


def test_a_row_the_reader_cannot_split_keeps_its_line(con, tmp_path):
    content = f"{HEADER}\nB1;2024-03-05;1;x\nB2;2024-03-05\nB3;2024-03-05;3;z\n".encode()
    result = _load(con, tmp_path, content)
    assert result.rows_rejected == 1
    assert _rejected(con) == [(2, 3, "B2;2024-03-05")]
    assert _lines(con) == {"B1": 2, "B3": 4}


def test_an_e_invoice_line_carries_the_line_of_its_element():
    """EHF (and SAF-T) lines: `_source_line` is where the line's element starts in the XML
    file (lxml's sourceline), as a text editor counts lines."""
    from pipelines.sources import ehf
    from tests.sources.test_ehf import NORWEGIAN

    header = ehf.read_header(NORWEGIAN, None)
    (table,) = list(ehf.iter_batches(NORWEGIAN, object(), header))
    starts = [
        number
        for number, text in enumerate(NORWEGIAN.read_text(encoding="utf-8").splitlines(), 1)
        if "<cac:InvoiceLine>" in text
    ]
    assert starts and table.column("_source_line").to_pylist() == starts
