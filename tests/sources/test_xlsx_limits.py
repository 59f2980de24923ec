"""Excel workbooks that unpack to far more than they weigh: each limit of `limits:` stops
its bomb before openpyxl reads it, with a message naming the file, the sheet or part, and
the limit. The bombs are generated here, a few kB to a few hundred kB each."""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from openpyxl import Workbook

from pipelines.profiles import load_profile
from pipelines.settings import Limits
from pipelines.sources import DeliveryRejected, grouped, xlsx_file
from pipelines.spend_loader import load_spend_file
from tests.conftest import write

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"
SHEET = "xl/worksheets/sheet1.xml"
HEADER = (
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>Bilag</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>Dato</t></is></c>'
    b'<c r="C1" t="inlineStr"><is><t>Bel\xc3\xb8p</t></is></c></row>'
)


def _row(number: int) -> bytes:
    return (
        f'<row r="{number}"><c r="A{number}" t="inlineStr"><is><t>B{number}</t></is></c>'
        f'<c r="B{number}" t="inlineStr"><is><t>2024-05-0{number % 9 + 1}</t></is></c>'
        f'<c r="C{number}"><v>{number}.5</v></c></row>'
    ).encode()


def build(
    path: Path,
    rows: Iterable[bytes] = (),
    *,
    dimension: str | None = None,
    shared: Iterable[bytes] | None = None,
    styles: Iterable[bytes] | None = None,
    prolog: bytes = b"",
    notes: Iterable[bytes] | None = None,
) -> Path:
    """A minimal workbook with one sheet 'Data': the header row, then `rows` (XML of
    <row> elements, streamed into the zip, so a bomb is never held whole); with `notes`,
    a second sheet 'Notes' of those rows, without a dimension."""
    overrides = [
        ("/xl/workbook.xml", f"{TYPES}.sheet.main+xml"),
        (f"/{SHEET}", f"{TYPES}.worksheet+xml"),
    ]
    relations = [("worksheet", "worksheets/sheet1.xml")]
    if notes is not None:
        overrides.append(("/xl/worksheets/sheet2.xml", f"{TYPES}.worksheet+xml"))
        relations.append(("worksheet", "worksheets/sheet2.xml"))
    if shared is not None:
        overrides.append(("/xl/sharedStrings.xml", f"{TYPES}.sharedStrings+xml"))
        relations.append(("sharedStrings", "sharedStrings.xml"))
    if styles is not None:
        overrides.append(("/xl/styles.xml", f"{TYPES}.styles+xml"))
        relations.append(("styles", "styles.xml"))
    content_types = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{n}" ContentType="{t}"/>' for n, t in overrides)
        + "</Types>"
    )
    workbook_relations = "".join(
        f'<Relationship Id="rId{i}" Type="{RELATIONSHIPS}/{kind}" Target="{target}"/>'
        for i, (kind, target) in enumerate(relations, start=1)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId1"/>'
            + ('<sheet name="Notes" sheetId="2" r:id="rId2"/>' if notes is not None else "")
            + "</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{workbook_relations}</Relationships>',
        )
        with archive.open(SHEET, "w") as sheet:
            sheet.write(prolog + f'<worksheet xmlns="{MAIN}">'.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>" + HEADER)
            for chunk in rows:
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
        if notes is not None:
            notes = [f'<worksheet xmlns="{MAIN}"><sheetData>'.encode(), *notes]
        for name, chunks in (
            ("xl/sharedStrings.xml", shared),
            ("xl/styles.xml", styles),
            ("xl/worksheets/sheet2.xml", notes and [*notes, b"</sheetData></worksheet>"]),
        ):
            if chunks is not None:
                with archive.open(name, "w") as part:
                    for chunk in chunks:
                        part.write(chunk)
    return path


def repeated(piece: bytes, times: int, head: bytes = b"", tail: bytes = b"") -> Iterable[bytes]:
    """`piece` `times` times, in chunks of at most 10 000."""
    yield head
    for start in range(0, times, 10_000):
        yield piece * min(10_000, times - start)
    yield tail


@pytest.fixture
def profile(tmp_path: Path):
    text = """
        profile: test-xlsx-limits
        format: xlsx
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Beløp}
    """
    return load_profile("x.yaml", write(tmp_path / "x.yaml", text).parent)


def read(path: Path, profile, limits: Limits | None = None) -> list[dict]:
    header = xlsx_file.read_header(path, profile, limits=limits)
    return [
        row
        for batch in xlsx_file.iter_batches(path, profile, header, limits=limits)
        for row in batch.to_pylist()
    ]


def refused(path: Path, profile, limits: Limits | None = None) -> str:
    """The message the delivery is rejected with: by read_header, or by iter_batches before
    it hands over a single row (the bomb is refused, not read)."""
    rows_handed_over = 0
    with pytest.raises(DeliveryRejected) as caught:
        header = xlsx_file.read_header(path, profile, limits=limits)
        for batch in xlsx_file.iter_batches(path, profile, header, limits=limits):
            rows_handed_over += batch.num_rows
    assert rows_handed_over == 0, "the limit was found only after rows were read"
    return str(caught.value)


def unpacked(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


# --- within the limits ---------------------------------------------------------------------


def test_a_workbook_within_the_limits_reads_every_row(tmp_path: Path, profile):
    path = build(tmp_path / "ok.xlsx", [_row(2), _row(3), _row(4)], dimension="A1:C4")
    rows = read(path, profile)
    assert [(r["c0"], r["c2"]) for r in rows] == [("B2", "2.5"), ("B3", "3.5"), ("B4", "4.5")]
    tight = Limits(xlsx_max_rows=4, xlsx_max_columns=3, xlsx_max_unpacked_bytes=unpacked(path))
    assert len(read(path, profile, tight)) == 3  # a limit is the most allowed, not less


def test_a_dimension_smaller_than_the_sheet_loses_no_row(tmp_path: Path, profile):
    """Some exporters write `<dimension ref="A1"/>` whatever the size: openpyxl would read
    one cell of such a sheet; the dimension is only checked against the limits."""
    path = build(tmp_path / "a1.xlsx", [_row(2), _row(3)], dimension="A1")
    assert [r["c2"] for r in read(path, profile)] == ["2.5", "3.5"]


def test_an_openpyxl_workbook_with_dates_and_a_second_sheet(tmp_path: Path, profile):
    workbook = Workbook()
    workbook.active.title = "Data"
    workbook.active.append(["Bilag", "Dato", "Beløp"])
    workbook.active.append(["B1", dt.datetime(2024, 5, 2), 12.5])
    workbook.create_sheet("Notes").append(["no spend here"])
    path = tmp_path / "real.xlsx"
    workbook.save(path)
    assert read(path, profile, Limits(xlsx_max_rows=2)) == [
        {"c0": "B1", "c1": "2024-05-02", "c2": "12.5", "_source_row": 1}
        | {"_parse_error": None, "_raw_text": None}
        | {"_source_line": 2, "_last_line": 2}  # the sheet's row (the header is row 1)
    ]


# --- size --------------------------------------------------------------------------------


def test_a_workbook_that_unpacks_beyond_the_limit(tmp_path: Path, profile):
    path = build(tmp_path / "bomb.xlsx", repeated(b"<row><c><v>1</v></c></row>", 40_000))
    assert path.stat().st_size < 20_000 and unpacked(path) > 1_000_000
    assert refused(path, profile, Limits(xlsx_max_unpacked_bytes=1_000_000)) == (
        f"bomb.xlsx: the workbook unpacks to {grouped(unpacked(path))} bytes, more than "
        "limits.xlsx_max_unpacked_bytes (1 000 000)"
    )


def test_the_declared_size_is_checked_before_anything_is_unpacked(tmp_path: Path, profile):
    """The zip's directory says 2.4 GB: refused at once with the default limit (Python's
    zipfile never unpacks more than a part's declared size, so the sum is a true bound)."""
    path = build(tmp_path / "declared.xlsx", [_row(2)])
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    others = 0
    while entry != -1:  # central directory entries: uncompressed size at offset 24
        name_length = struct.unpack_from("<H", data, entry + 28)[0]
        name = bytes(data[entry + 46 : entry + 46 + name_length]).decode()
        size = struct.unpack_from("<I", data, entry + 24)[0]
        if name == SHEET:
            sheet_entry = entry
        else:
            others += size
        entry = data.find(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, sheet_entry + 24, 2_400_000_000 - others)
    path.write_bytes(data)
    assert refused(path, profile) == (
        "declared.xlsx: the workbook unpacks to 2 400 000 000 bytes, more than "
        "limits.xlsx_max_unpacked_bytes (1 000 000 000)"
    )


def test_shared_strings_beyond_their_limit(tmp_path: Path, profile):
    head = f'<sst xmlns="{MAIN}">'.encode()
    path = build(
        tmp_path / "strings.xlsx",
        [_row(2)],
        shared=repeated(b"<si><t>z</t></si>", 700_000, head, b"</sst>"),
    )
    size = unpacked(path) - unpacked(build(tmp_path / "plain.xlsx", [_row(2)], shared=[b""]))
    assert path.stat().st_size < 50_000 and size > 10_000_000
    limits = Limits(xlsx_max_shared_strings_bytes=10_000_000)
    assert refused(path, profile, limits) == (
        f"strings.xlsx: part xl/sharedStrings.xml (the shared strings) unpacks to "
        f"{grouped(size)} bytes, more than limits.xlsx_max_shared_strings_bytes (10 000 000)"
    )


def test_a_part_read_whole_beyond_its_limit(tmp_path: Path, profile):
    """Styles take about thirty times their size in openpyxl: 11 MB of them, default limit."""
    xf = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    head = f'<styleSheet xmlns="{MAIN}"><cellXfs>'.encode()
    path = build(
        tmp_path / "styles.xlsx",
        [_row(2)],
        styles=repeated(xf, 11_000_000 // len(xf), head, b"</cellXfs></styleSheet>"),
    )
    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo("xl/styles.xml").file_size
    assert path.stat().st_size < 100_000
    assert refused(path, profile) == (
        f"styles.xlsx: part xl/styles.xml unpacks to {grouped(size)} bytes, more than "
        "limits.xlsx_max_part_bytes (10 000 000)"
    )


# --- rows and columns ----------------------------------------------------------------------


def test_rows_beyond_the_limit_are_counted_whatever_the_dimension_says(tmp_path: Path, profile):
    path = build(
        tmp_path / "rows.xlsx", repeated(b"<row><c><v>1</v></c></row>", 5_000), dimension="A1:C2"
    )
    assert refused(path, profile, Limits(xlsx_max_rows=1_000)) == (
        "rows.xlsx: sheet 'Data' reaches row 1 001, more than limits.xlsx_max_rows (1 000)"
    )


def test_two_million_empty_rows_stop_at_excel_s_row_limit(tmp_path: Path, profile):
    """The probe's 611 kB workbook gave 4.27 million junk rows in 217 s; this one (2 million
    rows, 18 kB) stops at Excel's own limit, the default."""
    path = build(tmp_path / "empty.xlsx", repeated(b"<row/>", 2_000_000))
    assert path.stat().st_size < 50_000
    assert refused(path, profile) == (
        "empty.xlsx: sheet 'Data' reaches row 1 048 577, more than limits.xlsx_max_rows (1 048 576)"
    )


def test_another_sheet_without_a_dimension_is_checked_too(tmp_path: Path, profile):
    """openpyxl reads a sheet without a dimension whole on opening the workbook, even when
    another sheet is the one read."""
    path = build(
        tmp_path / "notes.xlsx", [_row(2)], dimension="A1:C2", notes=repeated(b"<row/>", 3_000)
    )
    assert refused(path, profile, Limits(xlsx_max_rows=2_000)) == (
        "notes.xlsx: sheet 'Notes' reaches row 2 001, more than limits.xlsx_max_rows (2 000)"
    )
    fine = build(tmp_path / "fine.xlsx", [_row(2)], dimension="A1:C2", notes=[b"<row/>"])
    assert len(read(fine, profile, Limits(xlsx_max_rows=2_000))) == 1


def test_a_row_number_far_beyond_the_limit(tmp_path: Path, profile):
    """openpyxl would hand out every empty row up to it."""
    path = build(tmp_path / "far.xlsx", [b'<row r="900000000"><c><v>1</v></c></row>'])
    assert refused(path, profile) == (
        "far.xlsx: sheet 'Data' reaches row 900 000 000, more than limits.xlsx_max_rows (1 048 576)"
    )


@pytest.mark.parametrize(
    ("dimension", "message"),
    [
        (
            "A1:XFD1048576",
            "sheet 'Data' has a dimension (A1:XFD1048576) of 16 384 columns, more than "
            "limits.xlsx_max_columns (1 000)",
        ),
        (
            "A1:C5000000",
            "sheet 'Data' has a dimension (A1:C5000000) of 5 000 000 rows, more than "
            "limits.xlsx_max_rows (1 048 576)",
        ),
    ],
)
def test_a_huge_dimension_is_refused_before_any_row(tmp_path, profile, dimension, message):
    path = build(tmp_path / "huge.xlsx", [_row(2)], dimension=dimension)
    assert refused(path, profile) == f"huge.xlsx: {message}"


def test_a_cell_beyond_the_column_limit(tmp_path: Path, profile):
    path = build(tmp_path / "wide.xlsx", [b'<row r="2"><c r="ZZZ2"><v>1</v></c></row>'])
    assert refused(path, profile) == (
        "wide.xlsx: sheet 'Data' row 2 reaches column 18 278, more than "
        "limits.xlsx_max_columns (1 000)"
    )


def test_cells_without_references_are_counted_as_openpyxl_places_them(tmp_path, profile):
    path = build(tmp_path / "wide.xlsx", repeated(b"<c/>", 60, b"<row>", b"</row>"))
    assert refused(path, profile, Limits(xlsx_max_columns=50)) == (
        "wide.xlsx: sheet 'Data' row 2 reaches column 51, more than limits.xlsx_max_columns (50)"
    )


def test_a_row_stuffed_with_elements(tmp_path: Path, profile):
    """200 000 empty elements inside one cell: openpyxl would build them all at once."""
    path = build(tmp_path / "stuffed.xlsx", repeated(b"<x/>", 200_000, b"<row><c>", b"</c></row>"))
    assert path.stat().st_size < 10_000
    assert refused(path, profile) == (
        "stuffed.xlsx: sheet 'Data' holds more than 100 000 XML elements in or after row 2, "
        "more than 100 per column of limits.xlsx_max_columns (1 000)"
    )


def test_a_doctype_in_a_sheet_is_refused_unexpanded(tmp_path: Path, profile):
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    )
    path = build(tmp_path / "laughs.xlsx", [b"<row><c><v>&b;</v></c></row>"], prolog=laughs)
    message = refused(path, profile)
    assert message.startswith(
        "laughs.xlsx: not a readable .xlsx workbook (sheet 'Data': the file declares a DOCTYPE"
    )
    assert "aaaa" not in message


def test_the_loader_passes_the_cooperation_s_limits(tmp_path: Path, profile):
    import duckdb

    from pipelines.warehouse import create_raw_schema

    path = build(tmp_path / "three.xlsx", [_row(2), _row(3), _row(4)])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(con)
    try:
        result = load_spend_file(
            con, path, "5035", profile, "NO", "NOK", limits=Limits(xlsx_max_rows=3)
        )
    finally:
        con.close()
    assert (result.status, result.message) == (
        "rejected",
        "three.xlsx: sheet 'Data' reaches row 4, more than limits.xlsx_max_rows (3)",
    )
