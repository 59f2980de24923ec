"""The auditors' exports: stand-alone workbooks (headers, formats, Definitions, About),
provenance sidecars, hostile text that never becomes a formula, byte-identical files, the
audit bundle and its verification. On a small snapshot written here (the marts' columns the
exports read), so that each case is exact."""

from __future__ import annotations

import csv
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pytest
import yaml

from pipelines import export
from pipelines.audit_bundle import AUDIT_TABLES, verify_bundle, write_bundle
from pipelines.cli import main
from pipelines.export_catalogue import MARTS_DIR, column
from pipelines.export_xlsx import CELL_MAX, TEXTS

HOSTILE = (
    '=HYPERLINK("http://evil.example","click")',
    "+47 cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
)
LONG = "x" * 40_000
CONTROL = "NUL\x00 and BEL\x07 end"
PUBLISHED = datetime(2025, 3, 4, 5, 6, 7)
RUN_ID = "0f3c2b1a-run"
CONFIG_SHA = "c" * 64


def _snapshot(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.snapshot_info AS SELECT TIMESTAMP '2025-03-04 05:06:07.123' AS "
        f"published_at, 'w.duckdb' AS warehouse, '{RUN_ID}' AS run_id, "
        f"'{CONFIG_SHA}' AS config_sha256, 'samkjop 0.1.0 (commit abc)' AS platform_version"
    )
    con.execute(
        "CREATE TABLE marts.cooperation AS SELECT 'Innherred innkjøp' AS cooperation_name, "
        "'NO' AS country, 'NOK' AS currency"
    )
    con.execute(
        """
        CREATE TABLE marts.fct_spend_lines (
            spend_line_key BIGINT, municipality_id VARCHAR, invoice_id VARCHAR,
            invoice_date DATE, year INTEGER, supplier_name VARCHAR, description VARCHAR,
            amount DECIMAL(38, 4), is_covered BOOLEAN, source_file VARCHAR,
            source_row BIGINT, source_line BIGINT, file_sha256 VARCHAR, loaded_at TIMESTAMP
        )
        """
    )
    texts = [*HOSTILE, LONG, CONTROL, "Bakeri AS", "Ærlig 🍞 AS"]
    rows = []
    for number, text in enumerate(texts, start=1):
        rows.append(
            (
                number,
                "5035" if number % 2 else "5036",
                f"F-{number:03}",
                date(2025, 1 + number % 12, 15),
                2025,
                text,
                text,
                Decimal("-1234.5678") if number == 3 else Decimal(number * 1000) + Decimal("0.5"),
                number % 3 == 0,
                "spend_2025.csv",
                number,
                number + 1,
                "a" * 64,
                datetime(2025, 3, 1, 12, 0),
            )
        )
    con.executemany(f"INSERT INTO marts.fct_spend_lines VALUES ({', '.join('?' * 14)})", rows)
    con.execute(
        """
        CREATE TABLE marts.municipality_kpis AS SELECT * FROM (VALUES
            ('5035', 'Stjørdal', 2025, 1000.5::DECIMAL(38,4), 0.8228::DOUBLE),
            ('5036', 'Frosta', 2025, 250.25::DECIMAL(38,4), NULL::DOUBLE),
            ('5035', 'Stjørdal', 2024, 10.0::DECIMAL(38,4), 1.0::DOUBLE)
        ) AS t(municipality_id, municipality_name, year, total_spend, coverage)
        """
    )
    con.execute(
        """
        CREATE TABLE marts.rejected_rows AS SELECT * FROM (VALUES
            ('d1', '5035', 'spend_2025.csv', 4, 5, 'amount: not a number',
             '5035;F-9;2025-01-01;x;=cmd', TIMESTAMP '2025-03-01 12:00:00')
        ) AS t(delivery_id, municipality_id, source_file, source_row, source_line, reason,
               raw_row, rejected_at)
        """
    )
    con.execute(
        """
        CREATE TABLE marts.delivery_reconciliation AS SELECT * FROM (VALUES
            ('d1', '5035', 'spend_2025.csv', 'a', DATE '2025-01-01', DATE '2025-12-31')
        ) AS t(delivery_id, municipality_id, source_file, file_sha256, first_invoice_date,
               last_invoice_date)
        """
    )
    con.close()
    return path


@pytest.fixture
def snapshot(tmp_path) -> Path:
    return _snapshot(tmp_path / "snapshot.duckdb")


def _data_cells(path: Path):
    workbook = openpyxl.load_workbook(path)
    return workbook, workbook.worksheets[0]


def test_hostile_text_is_never_a_formula_in_xlsx(snapshot, tmp_path):
    path, rows = export.export_table(snapshot, "spend_lines", "xlsx", tmp_path / "out")
    assert rows == 10
    workbook, sheet = _data_cells(path)
    for worksheet in workbook.worksheets:
        for row in worksheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (worksheet.title, cell.coordinate, cell.value)
    header = [cell.value for cell in sheet[1]]
    names = [cell.comment.text for cell in sheet[1]]
    supplier = names.index("supplier_name")
    values = [row[supplier].value for row in sheet.iter_rows(min_row=2)]
    for text in HOSTILE:  # the text it is, a leading tab or carriage return too
        assert text in values
    (cut,) = [value for value in values if value.startswith("xxx")]
    assert len(cut) <= CELL_MAX and cut.endswith("characters in all]") and "40000" in cut
    assert "NUL\\u0000 and BEL\\u0007 end" in values
    assert "Ærlig 🍞 AS" in values
    assert header[names.index("amount")] == "Beløp"  # nb: the cooperation's country is NO


def test_xlsx_formats_header_filter_and_sort(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "municipality_kpis", "xlsx", tmp_path, language="en")
    workbook, sheet = _data_cells(path)
    assert [cell.value for cell in sheet[1]] == [
        "Municipality ID",
        "Municipality",
        "Year",
        "Total spend",
        "Coverage",
    ]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:E4"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [row[:3] for row in rows] == [
        ["5035", "Stjørdal", 2024],
        ["5035", "Stjørdal", 2025],
        ["5036", "Frosta", 2025],
    ]
    amount, ratio = sheet["D2"], sheet["E2"]
    assert amount.number_format == '#,##0.00 "NOK"' and amount.value == 10
    assert ratio.number_format == "0.0%"
    assert sheet["E4"].value is None  # NULL ratio (rule 7) stays empty, never 0
    assert workbook.properties.created == PUBLISHED


def test_dates_are_dates_in_xlsx(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "spend_lines", "xlsx", tmp_path, language="en")
    _, sheet = _data_cells(path)
    names = [cell.comment.text for cell in sheet[1]]
    first = sheet.cell(row=2, column=names.index("invoice_date") + 1)
    assert first.is_date and first.number_format == "yyyy-mm-dd"
    assert first.value.date() == date(2025, 2, 15)  # 5035's first line, by invoice date
    loaded = sheet.cell(row=2, column=names.index("loaded_at") + 1)
    assert loaded.value == datetime(2025, 3, 1, 12, 0)


@pytest.mark.parametrize("language", ["nb", "da", "en"])
def test_definitions_and_about_sheets(snapshot, tmp_path, language):
    path, _ = export.export_table(
        snapshot, "municipality_kpis", "xlsx", tmp_path, year=2025, language=language
    )
    workbook = openpyxl.load_workbook(path)
    texts = TEXTS[language]
    assert workbook.sheetnames == ["municipality_kpis", texts["definitions"], texts["about"]]
    definitions = [[c.value for c in row] for row in workbook[texts["definitions"]].iter_rows()]
    assert [row[1] for row in definitions[1:]] == [
        "municipality_id",
        "municipality_name",
        "year",
        "total_spend",
        "coverage",
    ]
    assert all(row[3] for row in definitions[1:])  # every column has a meaning
    coverage = definitions[-1]
    assert "§4.4" in coverage[4] and "percentage" in coverage[2]
    about = {row[0].value: row[1].value for row in workbook[texts["about"]].iter_rows()}
    assert about[texts["snapshot_sha256"]] == export.file_sha256(snapshot)
    assert about[texts["run_id"]] == RUN_ID
    assert about[texts["config_sha256"]] == CONFIG_SHA
    assert about[texts["published_at"]] == "2025-03-04 05:06:07"
    assert about[texts["rows"]] == "2"
    assert about[texts["filters"]] == "municipality: all; year: 2025"
    assert about[f"{texts['totals']}: total_spend"] == "1250.7500 NOK"
    assert about[texts["cooperation"]] == "Innherred innkjøp"


def test_csv_neutralises_formulas_and_has_a_manifest(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "spend_lines", "csv", tmp_path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    suppliers = [row["supplier_name"] for row in rows]
    for text in HOSTILE:
        assert "'" + text in suppliers
    assert "Bakeri AS" in suppliers
    for row in rows:
        assert row["supplier_name"][:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert "-1234.5678" in [row["amount"] for row in rows]  # a number is never prefixed
    manifest = json.loads((tmp_path / "spend_lines.manifest.json").read_text(encoding="utf-8"))
    assert manifest["sha256"] == export.file_sha256(path)
    assert manifest["rows"] == 10
    assert manifest["snapshot"]["run_id"] == RUN_ID
    assert manifest["control_totals"]["amount"] == str(
        sum(Decimal(row["amount"]) for row in rows).quantize(Decimal("0.0001"))
    )
    assert "OWASP" in manifest["formula_rule"]


def test_parquet_carries_its_provenance(snapshot, tmp_path):
    path, _ = export.export_table(snapshot, "municipality_kpis", "parquet", tmp_path, year=2025)
    (value,) = duckdb.sql(
        f"SELECT decode(value) FROM parquet_kv_metadata('{path}') "
        "WHERE decode(key) = 'samkjop_provenance'"
    ).fetchone()
    provenance = json.loads(value)
    assert provenance["snapshot"]["sha256"] == export.file_sha256(snapshot)
    assert provenance["filters"] == {"municipality": None, "year": 2025}
    assert (tmp_path / "municipality_kpis.manifest.json").is_file()


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "parquet"])
def test_the_same_snapshot_gives_the_same_bytes(snapshot, tmp_path, fmt):
    first, _ = export.export_table(snapshot, "spend_lines", fmt, tmp_path / "a")
    second, _ = export.export_table(snapshot, "spend_lines", fmt, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_an_empty_export_says_so(snapshot, tmp_path):
    with pytest.raises(export.EmptyExport, match="no rows match every member, --year 2019"):
        export.export_table(snapshot, "spend_lines", "xlsx", tmp_path, year=2019)
    assert not (tmp_path / "spend_lines.xlsx").exists()
    path, rows = export.export_table(
        snapshot, "spend_lines", "xlsx", tmp_path, year=2019, allow_empty=True
    )
    assert rows == 0 and openpyxl.load_workbook(path).worksheets[0].max_row == 1


def test_too_many_rows_for_a_sheet_names_the_limit(snapshot, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 9)
    with pytest.raises(export.ExportError, match=r"10 rows do not fit.*9 rows at most.*Parquet"):
        export.export_table(snapshot, "spend_lines", "xlsx", tmp_path)


def test_export_bytes_is_the_exported_file(snapshot, tmp_path):
    name, content = export.export_bytes(
        snapshot, "municipality_kpis", "xlsx", municipality="5035", year=2025, language="da"
    )
    path, _ = export.export_table(
        snapshot, "municipality_kpis", "xlsx", tmp_path, "5035", 2025, language="da"
    )
    assert name == "municipality_kpis_5035_2025.xlsx"
    assert content == path.read_bytes()
    name, content = export.export_bytes(snapshot, "spend_lines", "csv", year=2019)
    assert name == "spend_lines_2019.csv" and content.count(b"\n") == 1  # the header


def _bundle_snapshot(snapshot: Path) -> Path:
    """Every audit table the bundle writes, empty where the small snapshot has none."""
    con = duckdb.connect(str(snapshot))
    for table in AUDIT_TABLES:
        mart = export.EXPORT_TABLES[table].mart
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [mart]
        ).fetchone()[0]:
            year = export.EXPORT_TABLES[table].year_column or "year"
            column_name = year.removeprefix("year(").removesuffix(")")
            kind = "INTEGER" if column_name == "year" else "DATE"
            con.execute(
                f"CREATE TABLE marts.{mart} (municipality_id VARCHAR, {column_name} {kind}, "
                "delivery_id VARCHAR)"
            )
    con.close()
    return snapshot


def test_bundle_and_its_verification(snapshot, tmp_path, capsys):
    _bundle_snapshot(snapshot)
    target = tmp_path / "audit-2025.zip"
    result = write_bundle(snapshot, target, 2025, "5035")
    assert result.rows["spend_lines"] == 5 and result.rows["municipality_kpis"] == 1
    names = zipfile.ZipFile(target).namelist()
    assert {f"{t}.{f}" for t in AUDIT_TABLES for f in ("xlsx", "parquet")} <= set(names)
    assert names[-2:] == ["SHA256SUMS", "manifest.json"]
    again = write_bundle(snapshot, tmp_path / "again.zip", 2025, "5035")
    assert again.path.read_bytes() == target.read_bytes()
    assert verify_bundle(target).ok

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(target) as source, zipfile.ZipFile(tampered, "w") as copy:
        for name in source.namelist():
            if name == "suppliers.parquet":
                continue  # missing
            data = source.read(name)
            if name == "municipality_kpis.parquet":
                data = data.replace(b"5035", b"5036")  # changed
            copy.writestr(name, data)
        copy.writestr("notes.txt", b"added later")  # extra
    outcome = verify_bundle(tampered)
    assert outcome.changed == ["municipality_kpis.parquet"]
    assert outcome.missing == ["suppliers.parquet"]
    assert outcome.extra == ["notes.txt"]

    assert main(["verify-bundle", str(target)]) == 0
    capsys.readouterr()
    assert main(["verify-bundle", str(tampered)]) == 1
    err = capsys.readouterr().err
    assert "municipality_kpis.parquet: changed" in err
    assert "suppliers.parquet: missing" in err and "notes.txt: not in the manifest" in err


def test_an_empty_bundle_says_so(snapshot, tmp_path):
    _bundle_snapshot(snapshot)
    with pytest.raises(export.EmptyExport, match="no spend lines match"):
        write_bundle(snapshot, tmp_path / "b.zip", 2019)
    assert not (tmp_path / "b.zip").exists()
    assert (
        write_bundle(snapshot, tmp_path / "b.zip", 2019, allow_empty=True).rows["spend_lines"] == 0
    )


def test_every_exported_column_of_the_marts_is_described():
    """Each column the dbt YAML declares for an export table has a header in every language,
    a unit and a meaning (from dbt or export_columns.yaml)."""
    declared: dict[str, list[tuple[str, str]]] = {}
    for path in MARTS_DIR.rglob("_*.yml"):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            declared[model["name"]] = [
                (c["name"], str(c.get("data_type") or "varchar"))
                for c in model.get("columns") or []
            ]
    undescribed = []
    for table in export.EXPORT_TABLES.values():
        for name, data_type in declared.get(table.mart, []):
            described = column(table.mart, name, data_type.upper())
            if len(described.labels) != 3 or not described.meaning:
                undescribed.append(f"{table.mart}.{name}")
    assert not undescribed


def test_a_large_sheet_is_written_as_zip64_and_reads_back(snapshot, tmp_path, monkeypatch):
    """Beyond ZIP64_CELLS the workbook may be a ZIP64 archive (a sheet's XML over 4 GiB
    needs it; 1 000 000 lines of spend_lines do): the same cells read back."""
    import xlsxwriter

    from pipelines import export_xlsx

    plain, _ = export.export_table(snapshot, "municipality_kpis", "xlsx", tmp_path / "plain")
    asked = []
    use_zip64 = xlsxwriter.Workbook.use_zip64
    monkeypatch.setattr(
        xlsxwriter.Workbook, "use_zip64", lambda self: asked.append(1) or use_zip64(self)
    )
    monkeypatch.setattr(export_xlsx, "ZIP64_CELLS", 0)
    large, _ = export.export_table(snapshot, "municipality_kpis", "xlsx", tmp_path / "large")
    assert asked == [1]

    def cells(path: Path) -> list:
        return [[c.value for c in row] for row in openpyxl.load_workbook(path).worksheets[0].rows]

    assert cells(large) == cells(plain)
