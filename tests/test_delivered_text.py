"""rejected_rows.raw_row is the delivered line exactly as it was, also for a line the models
reject because its foreign currency has no exchange rate for the month (issue 13, point 3).

The loader keeps the delivered text of every loaded line in a currency other than the
cooperation's in raw.delivered_text, the same text a rejected row of its format keeps (a
CSV file: its line(s) exactly, the bytes decoded with the profile's encoding), in the
delivery's transaction; rejected_rows takes it from there. Checked for both CSV paths
(DuckDB's fast reader and the exact reader), UTF-8 and Windows-1252, a quoted line break,
a workbook and an e-invoice, and end to end through the dbt models."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from pipelines import spend_loader
from pipelines.profiles import load_profile
from pipelines.sources import ehf
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import create_raw_schema
from tests.conftest import write
from tests.dbt.runner import run_dbt

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
TODAY = dt.date(2025, 1, 1)

PROFILE = """
profile: kjop
csv: {{delimiter: ";", decimal: ",", encoding: {encoding}, date_formats: ["%d.%m.%Y"]}}
fields:
  invoice_id: {{column: Bilag}}
  invoice_date: {{column: Dato}}
  supplier_name: {{column: Leverandør}}
  amount_excl_vat: {{column: Beløp}}
  currency: {{column: Valuta}}
  description: {{column: Tekst}}
"""
HEADER = "Bilag;Dato;Leverandør;Beløp;Valuta;Tekst"
NOK_LINE = "B1;05.03.2024;Kontor AS;100,00;NOK;Papir"
# a foreign-currency line with a quoted delimiter, doubled quotes, non-ASCII letters and
# spaces at its end (each kept as delivered)
SEK_LINE = 'B2;06.03.2024;"Bøker ""Åsa"" & Co; AS";1 250,50;SEK;Blyant æøå é  '
REJECTED_LINE = "B3;07.03.2024;Kontor AS;tolv;NOK;x"
# a record over two lines (a quoted line break): only the exact reader reads it
MULTILINE_SEK = 'B4;08.03.2024;Bøker AS;10,00;sek;"to\r\nlinjer"'


def _profile(tmp_path: Path, encoding: str):
    folder = tmp_path / f"profiles-{encoding}"
    write(folder / "kjop.yaml", PROFILE.format(encoding=encoding))
    return load_profile("kjop.yaml", folder)


def _csv(tmp_path: Path, name: str, lines: list[str], encoding: str) -> tuple[Path, bytes]:
    content = "\r\n".join([HEADER, *lines]).encode(encoding) + b"\r\n"
    path = tmp_path / name
    path.write_bytes(content)
    return path, content


def _load_by(monkeypatch, reader: str):
    """Load with the fast path only ('fast': the exact reader must not be needed) or with
    the exact reader only ('exact': the fast path declines)."""
    if reader == "fast":

        def no_exact_reader(*args, **kwargs):
            raise AssertionError("the fast path declined this file")

        monkeypatch.setattr(spend_loader, "_stage_batches", no_exact_reader)
    else:
        monkeypatch.setattr(spend_loader, "stage_csv", lambda *args: None)


def _kept(con) -> list[tuple[int, int, str]]:
    return con.execute(
        "SELECT source_row, source_line, delivered_text FROM raw.delivered_text ORDER BY source_row"
    ).fetchall()


def _delivered(content: bytes, encoding: str, first: int, last: int | None = None) -> str:
    """Lines first..last (1 = the header) of the delivered bytes, decoded with the
    profile's encoding, without the last line break: what raw_row must be."""
    lines = content.decode(encoding).split("\r\n")
    return "\r\n".join(lines[first - 1 : (last or first)])


@pytest.mark.parametrize("reader", ["fast", "exact"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_foreign_currency_line_keeps_its_line_as_delivered(
    con, tmp_path, monkeypatch, reader, encoding
):
    path, content = _csv(tmp_path, "mars.csv", [NOK_LINE, SEK_LINE, REJECTED_LINE], encoding)
    _load_by(monkeypatch, reader)
    result = load_spend_file(
        con, path, "5035", _profile(tmp_path, encoding), "NO", "NOK", today=TODAY
    )
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 2, 1)
    sek = _delivered(content, encoding, 3)
    assert sek == SEK_LINE  # the test's own check of what was written
    # only the foreign-currency line, exactly as delivered; the NOK line is not kept
    assert _kept(con) == [(2, 3, sek)]
    # the same text the loader's own rejections keep
    assert con.execute("SELECT raw_row FROM raw.rejected_rows").fetchall() == [
        (_delivered(content, encoding, 4),)
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_a_foreign_currency_record_over_two_lines_keeps_both(con, tmp_path, encoding):
    lines = [NOK_LINE, MULTILINE_SEK, "", SEK_LINE]  # the exact reader: blank line, line break
    path, content = _csv(tmp_path, "mars.csv", lines, encoding)
    result = load_spend_file(
        con, path, "5035", _profile(tmp_path, encoding), "NO", "NOK", today=TODAY
    )
    assert (result.status, result.rows_loaded) == ("loaded", 3)
    # a lower-case currency is read as SEK: foreign too
    assert _kept(con) == [
        (2, 3, _delivered(content, encoding, 3, 4)),
        (3, 6, _delivered(content, encoding, 6)),
    ]
    assert _kept(con)[0][2] == MULTILINE_SEK


def test_a_file_without_foreign_currency_lines_is_not_read_again(con, tmp_path, monkeypatch):
    def no_second_pass(*args):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(spend_loader, "_file_lines", no_second_pass)
    path, _ = _csv(tmp_path, "mars.csv", [NOK_LINE, NOK_LINE.replace("B1", "B5")], "utf-8")
    result = load_spend_file(con, path, "5035", _profile(tmp_path, "utf-8"), "NO", "NOK")
    assert (result.status, result.rows_loaded) == ("loaded", 2)
    assert _kept(con) == []


def test_the_kept_text_goes_with_a_failed_load_and_is_kept_once_on_retry(
    con, tmp_path, monkeypatch
):
    """Written in the delivery's transaction: a load that fails after its rows were
    inserted leaves no kept text, and the retry keeps each line once."""
    path, content = _csv(tmp_path, "mars.csv", [NOK_LINE, SEK_LINE], "utf-8")
    profile = _profile(tmp_path, "utf-8")
    record = spend_loader._record
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the loaded delivery's record, inside the transaction
            raise RuntimeError("disk on fire")
        return record(*args, **kwargs)

    monkeypatch.setattr(spend_loader, "_record", fails_once)
    failed = load_spend_file(con, path, "5035", profile, "NO", "NOK", today=TODAY)
    assert failed.status == "rejected" and "disk on fire" in failed.message
    assert _kept(con) == []
    assert con.execute("SELECT count(*) FROM raw.spend_lines").fetchone() == (0,)
    retried = load_spend_file(con, path, "5035", profile, "NO", "NOK", today=TODAY)
    assert retried.status == "loaded"
    assert _kept(con) == [(2, 3, _delivered(content, "utf-8", 3))]


XLSX_PROFILE = """
profile: test-xlsx
format: xlsx
xlsx: {date_formats: ["%d.%m.%Y"]}
fields:
  invoice_id: {column: Bilag}
  invoice_date: {column: Dato}
  amount_excl_vat: {column: Beløp}
  currency: {column: Valuta}
  description: {column: Tekst}
"""


def test_a_workbook_line_keeps_the_row_as_its_rejections_do(con, tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Bilag", "Dato", "Beløp", "Valuta", "Tekst"])
    sheet.append(["X1", "02.05.2024", 10, "NOK", "Papir"])
    sheet.append(["X2", "03.05.2024", 1250.5, "SEK", "Bøker æøå"])
    sheet.append(["X3", "04.05.2024", "tolv", "SEK", "Bøker æøå"])
    path = tmp_path / "mai.xlsx"
    workbook.save(path)
    profile = load_profile("x.yaml", write(tmp_path / "x.yaml", XLSX_PROFILE).parent)
    result = load_spend_file(con, path, "5035", profile, "NO", "NOK", today=TODAY)
    assert (result.rows_loaded, result.rows_rejected) == (2, 1)
    (rejected,) = con.execute("SELECT raw_row FROM raw.rejected_rows").fetchone()
    kept = _kept(con)
    assert [(row, line) for row, line, _ in kept] == [(2, 3)]  # the sheet's row 3
    # the row as the reader read it, in the form of the loader's rejections (JSON)
    assert json.loads(kept[0][2]) == {
        "Bilag": "X2",
        "Dato": "03.05.2024",
        "Beløp": "1250.5",
        "Valuta": "SEK",
        "Tekst": "Bøker æøå",
    }
    assert json.loads(rejected).keys() == json.loads(kept[0][2]).keys()


def test_an_e_invoice_line_keeps_the_row_as_its_rejections_do(con, tmp_path):
    """An e-invoice's line (the official example is in EUR): its fields as the reader read
    them, in the form of the loader's rejections (JSON of the reader's columns)."""
    path = REFERENCE / "einvoice" / "peppol-bis-3" / "base-example.xml"
    assert path.is_file(), f"official example missing: {path}"
    result = load_spend_file(con, path, "5035", load_profile("ehf", tmp_path), "NO", "NOK")
    assert result.status == "loaded" and result.rows_loaded == 2
    header = ehf.read_header(path, None)
    staged = [
        (row["_source_row"], row["_source_line"], row)
        for table in ehf.iter_batches(path, object(), header)
        for row in table.to_pylist()
    ]
    kept = _kept(con)
    assert [(row, line) for row, line, _ in kept] == [(row, line) for row, line, _ in staged]
    for (_, _, text), (_, _, row) in zip(kept, staged, strict=True):
        read = {name: row[f"c{i}"] for i, name in enumerate(header.columns)}
        assert json.loads(text) == read
        assert read["currency"] == "EUR"


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", "ø", ";", '"', "\r", "\n", "\r\n", " "]), max_size=60).map(
        "".join
    ),
    chunk=st.integers(min_value=1, max_value=9),
    picks=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
)
def test_the_lines_are_found_as_the_exact_reader_counts_them(tmp_path_factory, text, chunk, picks):
    """_file_lines, which counts a chunk's lines in C and splits only where a wanted line is,
    gives each line as readline does in the exact reader's mode (newline=""), whatever the
    chunk boundaries (a CRLF split between two chunks is one line break)."""
    path = tmp_path_factory.mktemp("lines") / "f.csv"
    path.write_bytes(text.encode("cp1252"))
    with open(path, encoding="cp1252", newline="") as handle:
        expected = dict(enumerate(iter(handle.readline, ""), start=1))
    wanted = set(picks)
    original = spend_loader._TEXT_CHUNK
    spend_loader._TEXT_CHUNK = chunk
    try:
        found = spend_loader._file_lines(path, "cp1252", wanted)
    finally:
        spend_loader._TEXT_CHUNK = original
    assert found == {n: expected[n] for n in wanted if n in expected}


# --- end to end: the loaders, then the models ---------------------------------------------


def test_rejected_rows_shows_a_line_without_exchange_rate_as_delivered(tmp_path, monkeypatch):
    """CSV (fast path, UTF-8; exact reader, Windows-1252 with a quoted line break) and a
    workbook, loaded as a run loads them; SEK has no rate, EUR has one; a SEK line loaded
    before the loader kept texts (none kept) falls back to the rendering."""
    warehouse = tmp_path / "warehouse" / "samkjop.duckdb"
    warehouse.parent.mkdir()
    con = duckdb.connect(str(warehouse))
    create_raw_schema(con)
    con.execute("INSERT INTO raw.municipalities VALUES ('5035', 'Stjørdal', 24000, true)")
    con.execute("INSERT INTO raw.cooperation VALUES ('Test', 'NO', 'NOK', '5035', 0.8, 0.7)")
    con.execute("INSERT INTO raw.exchange_rates VALUES ('EUR', '2024-03', 11.5)")
    eur_line = "B6;09.03.2024;Euro AS;5,00;EUR;rated"
    fast, fast_bytes = _csv(tmp_path, "fast.csv", [NOK_LINE, SEK_LINE, eur_line], "utf-8")
    exact, exact_bytes = _csv(tmp_path, "exact.csv", [NOK_LINE, MULTILINE_SEK], "cp1252")
    with monkeypatch.context() as patched:
        _load_by(patched, "fast")
        loaded = load_spend_file(con, fast, "5035", _profile(tmp_path, "utf-8"), "NO", "NOK")
    assert loaded.rows_loaded == 3
    with monkeypatch.context() as patched:
        _load_by(patched, "exact")
        loaded = load_spend_file(con, exact, "5035", _profile(tmp_path, "cp1252"), "NO", "NOK")
    assert loaded.rows_loaded == 2
    # a line loaded by an earlier version: its kept text is not there
    old, _ = _csv(tmp_path, "old.csv", [SEK_LINE.replace("B2", "B9")], "utf-8")
    loaded = load_spend_file(con, old, "5035", _profile(tmp_path, "utf-8"), "NO", "NOK")
    con.execute("DELETE FROM raw.delivered_text WHERE delivery_id = ?", [loaded.delivery_id])
    con.close()

    result = run_dbt(["run", "--select", "+rejected_rows"], warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT source_file, source_line, raw_row, raw_row_is_delivered, reason "
            "FROM marts.rejected_rows WHERE rejected_by = 'exchange_rate' "
            "ORDER BY source_file, source_line"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        (
            str(exact),
            3,
            _delivered(exact_bytes, "cp1252", 3, 4),
            True,
            "no exchange rate for SEK 2024-03",
        ),
        (
            str(fast),
            3,
            _delivered(fast_bytes, "utf-8", 3),
            True,
            "no exchange rate for SEK 2024-03",
        ),
        (
            str(old),
            2,
            "invoice_id=B9; line_no=; invoice_date=2024-03-06; supplier_org_no=; "
            'supplier_name=Bøker "Åsa" & Co; AS; account=; art=; amount_excl_vat=1250.5000; '
            "currency=SEK; item_code=; description=Blyant æøå é",
            False,
            "no exchange rate for SEK 2024-03",
        ),
    ]
    # byte for byte: the delivered bytes decode to exactly these texts
    assert rows[0][2].encode("cp1252") == b"\r\n".join(exact_bytes.split(b"\r\n")[2:4])
    assert rows[1][2].encode("utf-8") == fast_bytes.split(b"\r\n")[2]


def test_kept_texts_are_delivery_data_not_part_of_the_reference_fingerprint(tmp_path):
    """fct_spend_lines is built delivery by delivery while the reference data is unchanged
    (pipelines/incremental.py): a kept text comes with a delivery, like its lines."""
    from pipelines import incremental

    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    create_raw_schema(con)
    con.close()
    before = incremental.line_model_inputs(warehouse, {})
    con = duckdb.connect(str(warehouse))
    con.execute("INSERT INTO raw.delivered_text VALUES ('D1', 1, 2, 'B1;SEK')")
    con.close()
    assert incremental.line_model_inputs(warehouse, {}) == before
    con = duckdb.connect(str(warehouse))
    con.execute("INSERT INTO raw.exchange_rates VALUES ('SEK', '2024-03', 0.98)")
    con.close()
    assert incremental.line_model_inputs(warehouse, {}) != before  # reference data counts
