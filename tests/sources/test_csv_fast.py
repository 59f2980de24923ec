"""The fast path of the CSV stage (pipelines/sources/csv_fast.py) stages exactly what the
exact reader stages, or declines.

For generated canonical and near-canonical files (quoted fields holding delimiters and
doubled quotes, empty fields, a byte-order mark, CRLF, Latin-1 and Windows-1252, lines
before the header; and damage: a trailing delimiter, a short or long row, a blank line, a
quoted line break, a lone CR, spaces around quotes, text after a closing quote, an unclosed
quote, a byte of another encoding) the stage the fast path writes (every column, every
`_source_row`) and the LineReport it fills equal the exact reader's, whenever it does not
decline; on files without damage it never declines. Whole loads (rows, rejected rows and
their reasons, the delivery's message) are the same with and without it."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines import spend_loader
from pipelines.profiles import CsvDialect, load_profile
from pipelines.sources import DeliveryRejected, csv_fast
from pipelines.sources.csv_fast import stage_csv
from pipelines.sources.csv_file import LineReport, read_header
from pipelines.warehouse import DELIVERY_TABLES, create_raw_schema

STAGE = spend_loader.STAGE
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252")
# characters of the generated values: every special one of some dialect, and letters that
# each encoding writes in its own bytes (€ is 0x80 in Windows-1252: DuckDB declines it)
# (and NUL, NEL, a no-break space and LINE SEPARATOR, none of them a line break to either)
ALPHABET = "ab Z09,;|\t\"'øÆé€-\x00\x85\xa0\u2028"
CLEAN_ALPHABET = "abZ09,;|\t\"'øÆé-\x00\xa0\u2028"  # no space next to a quote, no € or NEL


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    connection.execute("SET threads = 4")  # more threads than cores: any order shows
    yield connection
    connection.close()


def _profile(dialect: CsvDialect) -> SimpleNamespace:
    return SimpleNamespace(csv=dialect, format="csv", name="generated")


def _stages(con, path: Path, dialect: CsvDialect):
    """(exact stage, exact report or the rejection's message, fast stage, fast report)."""
    profile = _profile(dialect)
    header = read_header(path, profile)
    spend_loader._create_stage(con, header)
    exact_report = LineReport()
    try:
        spend_loader._stage_batches(con, path, profile, header, exact_report, None)
        exact = con.execute(f"SELECT * FROM {STAGE} ORDER BY _source_row").fetchall()
    except DeliveryRejected as rejected:
        exact, exact_report = None, str(rejected)
    spend_loader._create_stage(con, header)
    fast_report = LineReport()
    rows = stage_csv(con, path, dialect, header, STAGE, fast_report)
    fast = None
    if rows is not None:
        fast = con.execute(f"SELECT * FROM {STAGE} ORDER BY _source_row").fetchall()
        assert rows == len(fast)
    else:
        assert fast_report == LineReport()  # a declined file leaves the report alone
    return exact, exact_report, fast, fast_report


def _write_row(values: list[str], dialect: CsvDialect, quoting: str) -> str:
    buffer = io.StringIO()
    mode = {"needed": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL}[quoting]
    csv.writer(
        buffer, delimiter=dialect.delimiter, quotechar=dialect.quotechar, quoting=mode
    ).writerow(values)
    return buffer.getvalue().rstrip("\r\n")


DAMAGE = (
    "trailing_delimiter",
    "short",
    "long",
    "blank_line",
    "quoted_break",
    "lone_cr",
    "space_before_quote",
    "space_after_quote",
    "text_after_quote",
    "unclosed_quote",
    "other_encoding",
    "mixed_breaks",
)


def _damaged(line: str, damage: str | None, dialect: CsvDialect) -> tuple[str, bytes | None]:
    """The line with its damage, and bytes to put in the middle of it (another encoding)."""
    d, q = dialect.delimiter, dialect.quotechar
    if damage == "trailing_delimiter":
        return line + d, None
    if damage == "short":
        return line.rsplit(d, 1)[0] if d in line else "", None
    if damage == "long":
        return line + d + "x", None
    if damage == "quoted_break":
        return f"{line}{d}{q}one\ntwo{q}", None
    if damage == "space_before_quote":
        return f"{line}{d} {q}x{q}", None
    if damage == "space_after_quote":
        return f"{q}x{q} {d}{line}", None
    if damage == "text_after_quote":
        return f"{q}x{q}y{d}{line}", None
    if damage == "unclosed_quote":
        return f"{q}x{d}{line}", None
    if damage == "other_encoding":
        return line, "Bøker".encode("utf-16-le")
    return line, None


@st.composite
def delivery(draw, damaged: bool = True):
    """(the file's bytes, its dialect)."""
    width = draw(st.integers(1, 5))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    quote = draw(st.sampled_from(['"', '"', "'"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    header_row = draw(st.sampled_from([1, 1, 2, 3]))
    dialect = CsvDialect(
        encoding=encoding,
        delimiter=delimiter,
        quotechar=quote,
        header_row=header_row,
        multiline_fields=draw(st.booleans()),
        max_record_lines=3,
    )
    alphabet = ALPHABET if damaged else CLEAN_ALPHABET
    value = st.text(alphabet=alphabet, max_size=6)
    rows = draw(st.lists(st.lists(value, min_size=width, max_size=width), max_size=12))
    if not damaged:  # a one-column empty value is a blank line, no record
        assume(width > 1 or all(row[0] for row in rows))
        assume(not any(quote in v and " " in v for row in rows for v in row))
    break_ = draw(st.sampled_from(["\n", "\r\n"]))
    other_break = "\r\n" if break_ == "\n" else "\n"
    quoting = draw(st.sampled_from(["needed", "all"]))
    title = draw(st.sampled_from(["Rapport 2024", f"Rapport {quote}2024", "a;b,c"]))
    # (text, line break after it, bytes of another encoding put at its end)
    lines = [(title if damaged else "Rapport 2024", break_, b"")] * (header_row - 1)
    lines.append((_write_row([f"h{i}" for i in range(width)], dialect, quoting), break_, b""))
    for row in rows:
        damage = draw(st.sampled_from(DAMAGE + (None,) * 20)) if damaged else None
        line, inserted = _damaged(_write_row(row, dialect, quoting), damage, dialect)
        if damage == "blank_line":
            lines.append(("", break_, b""))
        if damage == "lone_cr":
            line += "\r" + line
        lines.append((line, other_break if damage == "mixed_breaks" else break_, inserted or b""))
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    data = b"\xef\xbb\xbf" if encoding == "utf-8-sig" else b""
    for number, (line, ending, inserted) in enumerate(lines):
        last = number == len(lines) - 1
        ending = "" if last and draw(st.booleans()) else ending
        data += line.encode(codec, errors="replace") + inserted + ending.encode()
    if encoding == "utf-8" and draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data, dialect


def _check(con, data: bytes, dialect: CsvDialect) -> bool:
    """Assert the fast path equals the exact reader (or declines); True: it staged."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "delivery.csv"
        path.write_bytes(data)
        try:
            read_header(path, _profile(dialect))
        except DeliveryRejected:
            return False  # rejected before anything is staged, on either path
        exact, exact_report, fast, fast_report = _stages(con, path, dialect)
    if fast is None:
        return False
    assert exact is not None, f"the exact reader rejects the file: {exact_report}"
    assert fast == exact
    assert fast_report == exact_report
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=delivery())
def test_the_fast_stage_equals_the_exact_readers_or_declines(con, generated):
    data, dialect = generated
    _check(con, data, dialect)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=delivery(damaged=False))
def test_canonical_files_take_the_fast_path(con, generated):
    data, dialect = generated
    cp1252_euro = dialect.encoding == "cp1252" and b"\x80" in data
    staged = _check(con, data, dialect)
    assert staged or cp1252_euro, data


HEADER = "h0,h1,h2"


@pytest.mark.parametrize(
    ("body", "encoding", "staged"),
    [
        ("a,b,c\nd,e,f\n", "utf-8", True),
        ('"a,1","b""2",\n,"",x', "utf-8", True),
        ("a,b,c\r\nd,e,f\r\n", "utf-8", True),
        ("a,b,c,\nd,e,f\n", "utf-8", False),  # a trailing delimiter: DuckDB drops it
        ("a,b\nd,e,f\n", "utf-8", False),
        ("a,b,c\n\nd,e,f\n", "utf-8", False),
        ('a,"b\nx",c\n', "utf-8", False),
        ("a,b,c\rd,e,f\n", "utf-8", False),
        ("a,b,c\r\nd,e,f\n", "utf-8", False),
        ('a, "b",c\n', "utf-8", False),  # DuckDB trims the space, the exact reader not
        ('a,"b" ,c\n', "utf-8", False),
        ('"a"x,b,c\n', "utf-8", False),
        ('a,"b,c\n', "utf-8", False),
        ("a,bø,c\n", "latin-1", True),
        ("a,b€,c\n", "cp1252", False),  # 0x80: not Latin-1
        ("a,b\x85,c\n", "latin-1", False),  # a C1 control DuckDB's Latin-1 refuses
        ("a,bø,c\n", "utf-16", False),
        ("a,b,c\n", "ascii", True),
    ],
)
def test_the_fast_path_declines_what_it_cannot_read_the_same(con, body, encoding, staged):
    header_break = "\r\n" if body.endswith("\r\n") else "\n"
    data = f"{HEADER}{header_break}{body}".encode(encoding)
    assert _check(con, data, CsvDialect(encoding=encoding)) is staged


def test_a_path_duckdb_would_read_as_a_glob_is_declined(con, tmp_path):
    path = tmp_path / "spend[1].csv"
    path.write_text(f"{HEADER}\na,b,c\n", encoding="utf-8")
    profile = _profile(CsvDialect())
    header = read_header(path, profile)
    spend_loader._create_stage(con, header)
    assert stage_csv(con, path, profile.csv, header, STAGE, LineReport()) is None


def test_a_header_over_two_lines_or_a_quoted_title_is_declined(con):
    assert _check(con, b'h0,"h\n1",h2\na,b,c\n', CsvDialect()) is False
    assert _check(con, b'Title "x\nh0,h1,h2\na,b,c\n', CsvDialect(header_row=2)) is False
    assert _check(con, b"Title x\nh0,h1,h2\na,b,c\n", CsvDialect(header_row=2)) is True


def test_a_multi_megabyte_file_keeps_every_value_and_ordinal_in_the_files_order(con, tmp_path):
    """Larger than DuckDB's read buffer, so that its reader works in parallel: every row
    still comes with its own record number, in the file's order."""
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("id,text,amount,note\n")
        for number in range(1, 150_001):
            note = f'"note, {number} ""quoted"""' if number % 7 == 0 else ""
            handle.write(f"ID{number:07d},{'tekst æøå ' * 20}{number},{number}.50,{note}\n")
    assert path.stat().st_size > 35_000_000
    exact, exact_report, fast, fast_report = _stages(con, path, CsvDialect())
    assert fast is not None, "the fast path declined a canonical file"
    assert len(fast) == 150_000
    assert fast == exact
    assert fast_report == exact_report
    assert all(row[0] == f"ID{row[4]:07d}" for row in fast)


# --- whole loads ------------------------------------------------------------------------

PROFILE = """
profile: test-fast
csv: {{encoding: {encoding}, delimiter: ";", decimal: ",", date_formats: ["%d.%m.%Y"],
       header_row: {header_row}}}
fields:
  invoice_id: {{column: Bilag}}
  invoice_date: {{column: Dato}}
  supplier_name: {{column: Leverandør}}
  amount_excl_vat: {{column: Beløp}}
  description: {{column: Tekst}}
"""
LOAD_HEADER = "Bilag;Dato;Leverandør;Beløp;Tekst"
GOOD = "1;01.03.2024;Kontor AS;100,00;Papir\n2;02.03.2024;Bygg AS;200,00;Sement\n"
FILES = {
    "canonical": GOOD,
    "quoted": '1;01.03.2024;"Kontor; AS";"1 000,00";"Papir ""A4"""\n' + GOOD,
    "crlf": GOOD,  # every line break CRLF, the header's too
    "no last break": GOOD.rstrip("\n"),
    "bad values": GOOD + "3;31.02.2024;X AS;tolv;y\n4;;Y AS;5,00;z\n",
    "unclosed quote": GOOD + '3;02.03.2024;"Bygg AS;200,00;Sement\n4;03.03.2024;D;300,00;"PC"\n',
    "quoted breaks and blank lines": GOOD + '3;03.03.2024;D;1,00;"two\nlines"\n\n',
    "stray delimiter": GOOD + "3;03.03.2024;D;1,00;x;y\n",
    "trailing delimiter": GOOD + "3;03.03.2024;D;1,00;x;\n",
    "short row": GOOD + "3;03.03.2024\n",
    "mixed breaks": "1;01.03.2024;K;1,00;a\r\n2;01.03.2024;K;1,00;b\r3;01.03.2024;K;1,00;c\n",
    "space around quotes": GOOD + '3;03.03.2024; "D";1,00;x\n',
    "every row rejected": "1;xx;K;1,00;a\n2;yy;K;2,00;b\n",
    "header only": "",
}


def _rows(con, table: str, skip: tuple[str, ...]) -> list[tuple]:
    """Every row of a raw table, without the columns that differ from one load to the next
    (when it was loaded; spend_line_key, a number drawn per load)."""
    columns = [
        name
        for (name,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        if name not in skip
    ]
    order = "source_row" if "source_row" in columns else "1"
    return con.execute(f"SELECT {', '.join(columns)} FROM raw.{table} ORDER BY {order}").fetchall()


def _outcome(con, path: Path, profile) -> tuple:
    for table in DELIVERY_TABLES:
        con.execute(f"DELETE FROM raw.{table}")
    result = spend_loader.load_spend_file(con, path, "5035", profile, "NO", "NOK", sha="0" * 64)
    return (
        result.status,
        result.message,
        result.rows_read,
        _rows(con, "spend_lines", ("loaded_at", "spend_line_key")),
        _rows(con, "rejected_rows", ("rejected_at",)),
        _rows(con, "deliveries", ("loaded_at",)),
    )


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
@pytest.mark.parametrize("header_row", [1, 2])
@pytest.mark.parametrize("name", sorted(FILES))
def test_a_load_is_the_same_with_and_without_the_fast_path(
    tmp_path, monkeypatch, name, encoding, header_row
):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "p.yaml").write_text(
        PROFILE.format(encoding=encoding, header_row=header_row), encoding="utf-8"
    )
    profile = load_profile("p.yaml", folder)
    path = tmp_path / "d.csv"
    title = "Innkjøp mars 2024\n" * (header_row - 1)
    text = f"{title}{LOAD_HEADER}\n{FILES[name]}"
    path.write_bytes((text.replace("\n", "\r\n") if name == "crlf" else text).encode(encoding))
    con = duckdb.connect()
    create_raw_schema(con)
    taken = []
    fast_path = spend_loader.stage_csv

    def watched(*args):
        rows = fast_path(*args)
        taken.append(rows is not None)
        return rows

    monkeypatch.setattr(spend_loader, "stage_csv", watched)
    with_fast = _outcome(con, path, profile)
    monkeypatch.setattr(spend_loader, "stage_csv", lambda *args: None)
    without = _outcome(con, path, profile)
    con.close()
    assert with_fast == without
    clean = name in ("canonical", "quoted", "crlf", "no last break", "bad values", "header only")
    clean = clean or name == "every row rejected"
    assert taken == [clean]


def test_an_error_of_duckdbs_reader_after_some_rows_declines_and_the_transaction_goes_on(
    tmp_path, monkeypatch
):
    """DuckDB reads on a cursor of its own: an error far into the file (after batches were
    staged) never aborts the caller's transaction; the stage is then read again exactly."""
    monkeypatch.setattr(csv_fast, "_BATCH_ROWS", 1_000)
    path = tmp_path / "late.csv"
    rows = "".join(f"a{i},b,c\n" for i in range(5_000))
    path.write_text(f"{HEADER}\n{rows}" + '"x"y,b,c\n', encoding="utf-8")
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a INTEGER)")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO t VALUES (1)")
    profile = _profile(CsvDialect())
    header = read_header(path, profile)
    spend_loader._create_stage(con, header)
    report = LineReport()
    assert stage_csv(con, path, profile.csv, header, STAGE, report) is None
    assert report == LineReport()
    spend_loader._create_stage(con, header)
    assert spend_loader._stage_batches(con, path, profile, header, report, None) == 5_001
    con.execute("INSERT INTO t VALUES (2)")
    con.execute("COMMIT")
    assert con.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert con.execute(f"SELECT _source_row, c0 FROM {STAGE} WHERE _source_row = 5001").fetchone()
    con.close()
