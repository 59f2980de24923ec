"""Property: whatever damage a CSV delivery carries (stray quotes and delimiters, short and
long rows, blank lines, quoted line breaks, CR, LF and CRLF mixed, NUL characters, bytes
of another encoding), every physical line of the file ends loaded, excluded or rejected,
exactly once, and the sums reconcile.

The test finds each line in the warehouse by a marker only that line carries (`L0007X`),
and counts the lines from the file's bytes the way a text editor does, independently of
the reader: a line ends at CRLF, LF or a lone CR."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.profiles import load_profile
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import DELIVERY_TABLES, create_raw_schema

PROFILE = """
profile: damaged-{multiline}
csv: {{delimiter: ";", encoding: utf-8, multiline_fields: {multiline}, max_record_lines: 4}}
fields:
  invoice_id: {{column: Bilag}}
  invoice_date: {{column: Dato}}
  amount_excl_vat: {{column: Beløp}}
  account: {{column: Konto}}
  description: {{column: Tekst}}
exclude_rows:
  - {{column: Konto, matches: '^9', reason: not spend}}
"""
HEADER = "Bilag;Dato;Beløp;Konto;Tekst"
MARKER = re.compile(r"L\d{4}X")
BREAKS = ("\n", "\r\n", "\r")

# Each piece: (what it should become, its lines). {m} is the marker of the piece's first
# line, {m2} of its second; {a} the amount. Kinds: loads (always), excluded (always),
# other (loaded, merged or rejected depending on what is around it and on the profile).
PIECES = {
    "good": ("loads", ["{m};2024-03-05;{a};4000;plain"]),
    "good_quoted": ("loads", ['{m};2024-03-05;{a};4000;"semi; colon ""quoted"""']),
    "good_nul": ("loads", ["{m};2024-03-05;{a};4000;nul\0char"]),
    "excluded": ("excluded", ["{m};2024-03-05;{a};9000;income"]),
    "multiline": ("other", ['{m};2024-03-05;{a};4000;"first', '{m2} second"']),
    "stray_quote": ("other", ['{m};2024-03-05;{a};4000;"never closed']),
    "stray_quote_early": ("other", ['{m};"2024-03-05;{a};4000;text']),
    "closing_quote": ("other", ['{m} tail";']),
    "stray_delimiter": ("other", ["{m};2024-03-05;{a};4000;te;xt"]),
    "short": ("other", ["{m};2024-03-05"]),
    "short_quote": ("other", ['{m} garbage "x']),
    "bad_amount": ("other", ["{m};2024-03-05;tolv;4000;x"]),
    "huge_amount": ("other", ["{m};2024-03-05;1e+15;4000;x"]),
    "far_date": ("other", ["{m};2100-12-31;{a};4000;x"]),
    "blank": ("other", [""]),
}
UNDECODABLE = {  # a line of another encoding in the UTF-8 file: the delivery is rejected
    "latin1": "{m};2024-03-05;{a};4000;Bøker".encode("cp1252"),
    "stray_byte": b"{m};2024-03-05;{a};4000;bad \xff byte",
}


@dataclass
class Piece:
    kind: str
    amount: Decimal
    markers: list[str]


amounts = st.decimals(
    min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False
)
line_breaks = st.lists(st.sampled_from(BREAKS), min_size=2, max_size=2)
pieces = st.tuples(
    st.lists(st.tuples(st.sampled_from(sorted(PIECES)), amounts, line_breaks), max_size=30),
    # now and then one line in another encoding, somewhere
    st.one_of(
        st.none(),
        st.none(),
        st.none(),
        st.tuples(st.integers(0, 30), st.sampled_from(sorted(UNDECODABLE)), amounts, line_breaks),
    ),
    st.booleans(),  # does the last line end with a line break?
)


def _build(generated) -> tuple[bytes, list[Piece]]:
    """The file's bytes and its pieces (with their markers and amounts)."""
    listed, other_encoding, last_break = generated
    listed = list(listed)
    if other_encoding is not None:
        at, *piece = other_encoding
        listed.insert(min(at, len(listed)), tuple(piece))
    data = (HEADER + "\n").encode()
    built: list[Piece] = []
    number = 0
    for kind, amount, breaks in listed:
        markers = [f"L{number:04d}X", f"L{number + 1:04d}X"]
        number += 2
        if kind in UNDECODABLE:
            line = UNDECODABLE[kind].replace(b"{m}", markers[0].encode())
            data += line.replace(b"{a}", str(amount).encode()) + breaks[0].encode()
            built.append(Piece(kind, amount, markers[:1]))
            continue
        lines = PIECES[kind][1]
        for i, line in enumerate(lines):
            text = line.format(m=markers[0], m2=markers[1], a=amount)
            data += (text + breaks[i]).encode()
        used = [m for m in markers[: len(lines)] if kind != "blank"]
        built.append(Piece(kind, amount, used))
    if not last_break:
        data = data.rstrip(b"\r\n") if data.count(b"\n") > 1 else data
    return data, built


def _physical_lines(data: bytes) -> list[bytes]:
    """The lines as a text editor counts them (CRLF, LF or a lone CR ends a line)."""
    lines = re.split(rb"\r\n|\r|\n", data)
    return lines[:-1] if lines and lines[-1] == b"" else lines


@pytest.fixture(scope="module")
def profiles():
    folder = Path(tempfile.mkdtemp())
    loaded = {}
    for multiline in (True, False):
        name = f"damaged-{str(multiline).lower()}.yaml"
        (folder / name).write_text(PROFILE.format(multiline=str(multiline).lower()))
        loaded[multiline] = load_profile(name, folder)
    return loaded


@pytest.fixture(scope="module")
def warehouse():
    """One in-memory warehouse for all examples (emptied before each): fast."""
    con = duckdb.connect()
    create_raw_schema(con)
    yield con
    con.close()


@pytest.mark.parametrize("multiline", [True, False])
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=pieces)
def test_every_physical_line_is_loaded_excluded_or_rejected(
    profiles, warehouse, multiline, generated
):
    data, built = _build(generated)
    con = warehouse
    for table in DELIVERY_TABLES:
        con.execute(f"DELETE FROM raw.{table}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "delivery.csv"
        path.write_bytes(data)
        result = load_spend_file(con, path, "5035", profiles[multiline], "NO", "NOK")
        loaded = con.execute(
            "SELECT invoice_id, coalesce(description, ''), amount_excl_vat FROM raw.spend_lines"
        ).fetchall()
        excluded = con.execute("SELECT raw_row, amount_excl_vat FROM raw.excluded_rows").fetchall()
        rejected = con.execute("SELECT reason, raw_row FROM raw.rejected_rows").fetchall()
        recorded = con.execute(
            "SELECT status, rows_read, rows_loaded, rows_rejected, rows_excluded, "
            "amount_loaded FROM raw.deliveries"
        ).fetchall()

    lines = _physical_lines(data)
    undecodable = next((i for i, line in enumerate(lines, 1) if not _decodes(line)), None)
    if undecodable is not None:  # rejected whole, naming the first line it cannot read
        assert result.status == "rejected"
        assert f"delivery.csv: line {undecodable}: cannot be read as utf-8" in result.message
        assert (loaded, excluded, rejected) == ([], [], [])
        return

    # every line after the header is blank, or its marker is in exactly one row
    places: dict[str, list[str]] = {}
    for invoice_id, description, _ in loaded:
        for marker in MARKER.findall(invoice_id + " " + description):
            places.setdefault(marker, []).append("loaded")
    for raw_row, _ in excluded:
        for marker in MARKER.findall(raw_row):
            places.setdefault(marker, []).append("excluded")
    for _, raw_row in rejected:
        for marker in MARKER.findall(raw_row):
            places.setdefault(marker, []).append("rejected")
    for number, line in enumerate(lines[1:], start=2):
        markers = MARKER.findall(line.decode())
        if not line:
            continue
        assert markers, f"line {number} {line!r} carries no marker"
        for marker in markers:
            assert len(places.get(marker, [])) == 1, (number, line, places.get(marker))
    assert sorted(places) == sorted(m for p in built for m in p.markers)

    # lines that are whole, good records always load (a stray quote never swallows them),
    # with their amount; excluded lines are excluded with theirs
    by_marker = {p.markers[0]: p for p in built if p.markers}
    loaded_amounts = {invoice_id: amount for invoice_id, _, amount in loaded}
    for piece in built:
        kind = PIECES[piece.kind][0] if piece.kind in PIECES else "other"
        if kind == "loads":
            assert loaded_amounts.get(piece.markers[0]) == piece.amount, piece
        if kind == "excluded":
            assert places[piece.markers[0]] == ["excluded"], piece
    for raw_row, amount in excluded:
        assert amount == by_marker[MARKER.search(raw_row).group()].amount
    for invoice_id, _, amount in loaded:
        assert amount == by_marker[invoice_id].amount  # every loaded row: its own amount
    if not multiline:  # no field holds a line break: no merged rows at all
        assert not any("\n" in d or "\r" in d for _, d, _ in loaded)

    # the counts and sums reconcile, and each rejected row says why (and where)
    rows = len(loaded) + len(excluded) + len(rejected)
    # a file of which no row loads is rejected, unless its rows are all excluded (not spend)
    expected_status = "loaded" if loaded or (excluded and not rejected) else "rejected"
    assert recorded == [
        (
            expected_status,
            rows,
            len(loaded),
            len(rejected),
            len(excluded),
            sum((a for _, _, a in loaded), Decimal(0)) if loaded else None,
        )
    ]
    assert result.status == expected_status
    for reason, raw_row in rejected:
        assert reason
        where = re.match(r"lines? (\d+)(?:-(\d+))?: ", reason)
        if where:  # a structural problem names the line its raw text starts on
            first = int(where.group(1))
            assert MARKER.search(raw_row).group() in lines[first - 1].decode(), (reason, raw_row)
        # raw_row is the line as delivered
        if ";2024-03-05;1e+15;4000;x" in raw_row:
            assert "'1e+15' is outside the plausible range of ±1 000 000 000 000" in reason
        if ";2100-12-31;" in raw_row:
            assert "limits.invoice_date_years_after" in reason


def _decodes(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
