"""The exports' workbooks: a data sheet an auditor can read without the platform, its
Definitions and About sheets, streamed with xlsxwriter in constant-memory mode.

The data rows are many (up to a sheet's 1 048 575): DuckDB renders each one as the sheet's
XML (`<row>` with its cells; row_xml_sql), and _DataSheet, xlsxwriter's worksheet with one
method more, appends them to the sheet's row data as they come, a batch at a time. xlsxwriter
writes everything else (header, notes, formats, filter, panes, the other sheets, the zip).
Cell by cell through xlsxwriter's API a row of 57 columns costs about half a millisecond;
rendered by DuckDB the whole sheet costs about what compressing it costs.

Safe to open: every text is written with write_string, so a cell never becomes a formula
whatever it begins with (=, +, -, @ ...); characters XML cannot hold (NUL and the other
control characters, lone surrogates of undecodable bytes) are written as \\uXXXX; a text
longer than a cell's 32 767 characters is cut and ends with CUT_MARK. The same rows give
the same bytes: the workbook's created date is the snapshot's published-at and xlsxwriter
dates the zip entries 1980-01-01."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

if TYPE_CHECKING:
    import duckdb

    from pipelines.export import SnapshotFacts
    from pipelines.export_catalogue import Column

CELL_MAX = 32_767  # characters (UTF-16 units) an Excel cell holds
CUT_MARK = " […cut: {length} characters in all]"
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# the same characters as code points, for the SQL that renders the rows (DuckDB's text is
# valid UTF-8: no lone surrogates)
_UNWRITABLE_CODES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xFFFE, 0xFFFF]
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units each
MAX_WIDTH = 60
# cells above which the data sheet's XML may pass the 4 GiB of a plain zip entry (a cell
# takes 20-200 bytes)
ZIP64_CELLS = 10_000_000

# the sheets' own words, per language
TEXTS: dict[str, dict[str, str]] = {
    "nb": {
        "definitions": "Definisjoner",
        "about": "Om eksporten",
        "header": "Overskrift",
        "column": "Kolonne",
        "unit": "Enhet",
        "meaning": "Betydning",
        "rule": "Regel (BRIEF §4)",
        "table": "Tabell",
        "cooperation": "Samarbeid",
        "currency": "Valuta",
        "snapshot_file": "Øyeblikksbilde (fil)",
        "snapshot_sha256": "Øyeblikksbildets SHA-256",
        "published_at": "Publisert",
        "run_id": "Kjøring (run id)",
        "config_sha256": "Konfigurasjonsfilens SHA-256",
        "platform_version": "Plattformversjon (publisering)",
        "exported_by": "Plattformversjon (eksport)",
        "filters": "Filtre",
        "rows": "Antall rader",
        "order": "Sortering",
        "totals": "Kontrollsum",
        "safety": "Sikkerhet",
        "not_recorded": "ikke registrert (øyeblikksbilde fra en tidligere versjon)",
    },
    "da": {
        "definitions": "Definitioner",
        "about": "Om eksporten",
        "header": "Overskrift",
        "column": "Kolonne",
        "unit": "Enhed",
        "meaning": "Betydning",
        "rule": "Regel (BRIEF §4)",
        "table": "Tabel",
        "cooperation": "Samarbejde",
        "currency": "Valuta",
        "snapshot_file": "Øjebliksbillede (fil)",
        "snapshot_sha256": "Øjebliksbilledets SHA-256",
        "published_at": "Publiceret",
        "run_id": "Kørsel (run id)",
        "config_sha256": "Konfigurationsfilens SHA-256",
        "platform_version": "Platformversion (publicering)",
        "exported_by": "Platformversion (eksport)",
        "filters": "Filtre",
        "rows": "Antal rækker",
        "order": "Sortering",
        "totals": "Kontrolsum",
        "safety": "Sikkerhed",
        "not_recorded": "ikke registreret (øjebliksbillede fra en tidligere version)",
    },
    "en": {
        "definitions": "Definitions",
        "about": "About",
        "header": "Header",
        "column": "Column",
        "unit": "Unit",
        "meaning": "Meaning",
        "rule": "Rule (BRIEF §4)",
        "table": "Table",
        "cooperation": "Cooperation",
        "currency": "Currency",
        "snapshot_file": "Snapshot file",
        "snapshot_sha256": "Snapshot SHA-256",
        "published_at": "Published at",
        "run_id": "Run id",
        "config_sha256": "Configuration file SHA-256",
        "platform_version": "Platform version (publish)",
        "exported_by": "Platform version (export)",
        "filters": "Filters",
        "rows": "Rows",
        "order": "Row order",
        "totals": "Control total",
        "safety": "Safety",
        "not_recorded": "not recorded (a snapshot of an earlier version)",
    },
}
# the units that are numbers on the sheet (a <v> of the value as DuckDB writes it)
_NUMERIC = {"amount", "price", "ratio", "count", "integer", "year", "id", "days", "number"}
_NUMERIC |= {"kg", "tonnes"}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _escaped_sql(value: str) -> str:
    """cell_text's first rule in SQL: unwritable characters as \\uXXXX."""
    escaped = value
    for code in _UNWRITABLE_CODES:
        escaped = f"replace({escaped}, chr({code}), '\\u{code:04X}')"
    pattern = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{FFFE}\x{FFFF}]"
    return f"CASE WHEN regexp_matches({value}, '{pattern}') THEN {escaped} ELSE {value} END"


def _cut_sql(value: str) -> str:
    """cell_text's second rule in SQL: a text over CELL_MAX UTF-16 units is cut, with
    CUT_MARK."""
    astral = (
        f"(length({value}) - length(regexp_replace({value}, '[\\x{{10000}}-\\x{{10FFFF}}]', "
        "'', 'g')))"
    )
    mark = CUT_MARK.format(length="' || length(" + value + ") || '")
    keep = (
        f"{CELL_MAX} - {len(CUT_MARK.format(length=''))} - "
        f"length(CAST(length({value}) AS VARCHAR)) - {astral}"
    )
    return (
        f"CASE WHEN length({value}) > {CELL_MAX // 2} AND length({value}) + {astral} > "
        f"{CELL_MAX} THEN left({value}, {keep}) || '{mark}' ELSE {value} END"
    )


def _xml_text_sql(value: str) -> str:
    """OOXML's escapes: a literal `_xHHHH_` stays literal, & < > as entities, a carriage
    return as a character reference (XML would read it as a line feed)."""
    return (
        f"replace(replace(replace(replace(regexp_replace({value}, '_(x[0-9A-Fa-f]{{4}}_)', "
        "'_x005F_\\1', 'g'), '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), chr(13), '&#13;')"
    )


def _cell_sql(column: Column, style: int | None) -> str:
    """One column's cell (NULL: an empty cell). Cells and rows carry no `r`: each is the
    next one, which keeps the rows free of a row number (a window DuckDB would have to
    hold in memory)."""
    name = _quoted(column.name)
    where = "'<c" + (f' s="{style}"' if style else "")
    if column.unit == "flag":
        return f"{where} t=\"b\"><v>' || CAST({name} AS INTEGER) || '</v></c>'"
    if column.unit == "date":
        number = f"date_diff('day', DATE '1899-12-30', CAST({name} AS DATE))"
    elif column.unit == "timestamp":
        number = f"(epoch(CAST({name} AS TIMESTAMP)) / 86400.0 + 25569)"
    elif column.unit in _NUMERIC:
        number = name
        if column.sql_type.upper() in ("DOUBLE", "FLOAT", "REAL"):
            number = f"CASE WHEN isfinite({name}) THEN {name} END"
    else:
        return (
            f'{where} t="inlineStr"><is><t xml:space="preserve">\' || '
            f"{_xml_text_sql(name)} || '</t></is></c>'"
        )
    return f"{where}><v>' || CAST({number} AS VARCHAR) || '</v></c>'"


def row_xml_sql(
    columns: list[Column], styles: dict[str, int | None], source: str, order: str
) -> str:
    """The rows of `source` in `order` as the sheet's XML (from its second row: the first
    is the header), one text per row. Only the sort holds rows; the rendering streams."""
    texts = {c.name for c in columns if c.unit == "text"}
    escaped = ", ".join(
        f"{_escaped_sql(f'CAST({_quoted(c.name)} AS VARCHAR)')} AS {_quoted(c.name)}"
        if c.name in texts
        else _quoted(c.name)
        for c in columns
    )
    cut = ", ".join(
        f"{_cut_sql(_quoted(c.name))} AS {_quoted(c.name)}" if c.name in texts else _quoted(c.name)
        for c in columns
    )
    cells = ", ".join(
        f"coalesce({_cell_sql(column, styles.get(column.name))}, '<c/>')" for column in columns
    )
    ordered = f"SELECT {escaped} FROM {source} ORDER BY {order}"
    return f"SELECT '<row>' || concat({cells}) || '</row>' FROM (SELECT {cut} FROM ({ordered}))"


class _DataSheet(Worksheet):
    """xlsxwriter's worksheet, with rows rendered elsewhere appended in constant-memory
    mode: after the rows written with its own methods, before any written after."""

    def append_rendered(self, first_row: int, last_row: int, last_col: int, xml_batches) -> None:
        if last_row < first_row:
            return
        self._write_single_row(first_row)  # the rows before, written as xlsxwriter does
        self._check_dimensions(last_row, last_col)
        for xml in xml_batches:
            self.fh.write(xml)
        self.previous_row = last_row


def _escape(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04X}"


def cell_text(value: str) -> str:
    """`value` as an XLSX cell can hold it: unwritable characters as \\uXXXX, cut (and
    saying so) when longer than CELL_MAX."""
    if not value.isprintable():
        value = _UNWRITABLE.sub(_escape, value)
    if len(value) > CELL_MAX // 2:
        astral = len(_ASTRAL.findall(value))
        if len(value) + astral > CELL_MAX:
            # at most CELL_MAX units whatever the characters cut (_cut_sql: the same rule)
            mark = CUT_MARK.format(length=len(value))
            value = value[: CELL_MAX - len(mark) - astral] + mark
    return value


def _width(column: Column, language: str) -> float:
    base = {"date": 11, "timestamp": 19, "flag": 8, "ratio": 9, "year": 6}.get(column.unit)
    if base is None:
        base = 16 if column.unit in _NUMERIC else 24
    if column.name.endswith("sha256") or column.name == "raw_row":
        base = 40
    return min(max(base, len(column.label(language)) * 0.9 + 2), MAX_WIDTH)


def write_xlsx(
    target: Path,
    con: duckdb.DuckDBPyConnection,
    source: tuple[str, list],
    order: str,
    rows: int,
    columns: list[Column],
    facts: SnapshotFacts,
    manifest: dict[str, Any],
    language: str,
    fetch_rows: int = 5_000,
) -> None:
    """Write the `rows` rows of `source` (a FROM clause and its parameters) in `order` into
    the workbook `target`, with its Definitions and About sheets."""
    texts = TEXTS[language]
    workbook = xlsxwriter.Workbook(
        str(target),
        {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    if rows * len(columns) > ZIP64_CELLS:
        workbook.use_zip64()  # a sheet's XML beyond 4 GiB (Excel reads ZIP64)
    workbook.set_properties(
        {
            "title": f"{manifest['table']}: {manifest['description']}",
            "company": facts.cooperation,
            "author": "Samkjøp",
            "comments": f"snapshot {facts.sha256}",
            "created": facts.created,
        }
    )
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    header.set_bottom(1)
    styles: dict[str, int | None] = {}
    for column in columns:
        pattern = column.number_format(facts.currency)
        # the cells are rendered before the workbook numbers its formats: number them now
        styles[column.name] = (
            workbook.add_format({"num_format": pattern})._get_xf_index() if pattern else None
        )
    sheet = workbook.add_worksheet(manifest["table"][:31], worksheet_class=_DataSheet)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, _width(column, language))
        sheet.write_string(0, index, cell_text(column.label(language)), header)
        sheet.write_comment(0, index, column.name)
    sheet.set_row(0, 45)
    sheet.freeze_panes(1, 0)
    sql, params = source
    reader = con.execute(row_xml_sql(columns, styles, sql, order), params).to_arrow_reader(
        fetch_rows
    )

    def batches():
        for batch in reader:
            yield "".join(batch.column(0).to_pylist())

    sheet.append_rendered(1, rows, len(columns) - 1, batches())
    sheet.autofilter(0, 0, max(rows, 1), len(columns) - 1)
    _definitions(workbook, texts, columns, manifest, facts, language, header)
    _about(workbook, texts, manifest, facts, header)
    workbook.close()


def _definitions(workbook, texts, columns, manifest, facts, language, header) -> None:
    sheet = workbook.add_worksheet(texts["definitions"])
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    titles = ("header", "column", "unit", "meaning", "rule")
    for index, (key, width) in enumerate(zip(titles, (28, 28, 24, 80, 30), strict=True)):
        sheet.set_column(index, index, width)
        sheet.write_string(0, index, texts[key], header)
    sheet.freeze_panes(1, 0)
    for number, column in enumerate(columns, start=1):
        values = (
            column.label(language),
            column.name,
            column.unit_words(facts.currency),
            column.meaning,
            column.rule,
        )
        for index, value in enumerate(values):
            sheet.write_string(number, index, cell_text(value), wrap)


def _about(workbook, texts, manifest, facts, header) -> None:
    sheet = workbook.add_worksheet(texts["about"])
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 90)
    snapshot = manifest["snapshot"]
    missing = texts["not_recorded"]
    filters = manifest["filters"]
    entries = [
        (texts["table"], f"{manifest['table']} ({manifest['mart']}): {manifest['description']}"),
        (texts["cooperation"], manifest["cooperation"]),
        (texts["currency"], manifest["currency"]),
        (texts["snapshot_file"], snapshot["file"]),
        (texts["snapshot_sha256"], snapshot["sha256"]),
        (texts["published_at"], snapshot["published_at"] or missing),
        (texts["run_id"], snapshot["run_id"] or missing),
        (texts["config_sha256"], snapshot["config_sha256"] or missing),
        (texts["platform_version"], snapshot["platform_version"] or missing),
        (texts["exported_by"], manifest["exported_by"]),
        (  # an export table's municipality and year, a council view's filters of its page
            texts["filters"],
            "; ".join(f"{key}: {value or 'all'}" for key, value in filters.items()),
        ),
        (texts["rows"], f"{manifest['rows']}"),
        (texts["order"], ", ".join(manifest["order"])),
    ]
    entries += [
        (f"{texts['totals']}: {name}", f"{total} {manifest['currency']}")
        for name, total in manifest["control_totals"].items()
    ]
    entries.append((texts["safety"], manifest["formula_rule"]))
    for number, (key, value) in enumerate(entries):
        sheet.write_string(number, 0, cell_text(key), header)
        sheet.write_string(number, 1, cell_text(str(value)), wrap)
