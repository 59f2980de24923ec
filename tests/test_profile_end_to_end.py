"""`samkjop run` on a member whose profile uses every feature of a real export — unpadded
days, a column renamed between two files, art mapping by prefix, supplier and supplier only,
row filters — checked against the independent implementation of BRIEF §4 (tests/oracle.py,
which reads the profile itself), with every row loaded, excluded or rejected and the
amounts reconciled to the files' own totals."""

from __future__ import annotations

import csv
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.mapping_report import unmapped_code_warnings
from tests.conftest import AGREEMENTS_HEADER, CANONICAL_HEADER, write
from tests.oracle import Oracle
from tests.test_cli_end_to_end import _check_against_oracle, _rows, samkjop, samkjop_here

pytestmark = pytest.mark.xdist_group("profile_end_to_end")

CONFIG = """
cooperation:
  name: Innherred innkjøp
  country: NO
  currency: NOK
  host: "5037"
reference:
  taxonomy: taxonomy.csv
  classification_rules: classification_rules.csv
agreements:
  - path: agreements.csv
    profile: canonical
municipalities:
  - id: "5037"
    name: Levanger
    spend:
      - path: spend_5037.csv
        profile: canonical
  - id: "5038"
    name: Verdal
    spend:
      - path: verdal/*.csv
        profile: verdal-erp.yaml
"""
PROFILE = """
profile: verdal-erp
description: A member's own ERP export, two quarters whose headers differ.
format: csv
csv:
  delimiter: ";"
  decimal: ","
  thousands: " "
  date_formats: ["%-d%m%Y", "%d.%m.%Y"]
country: NO
currency: NOK
fields:
  invoice_id: {column: [Bilagsnr, Bilag]}
  invoice_date: {column: [Fakturadato, Dato]}
  supplier_org_no: {column: Orgnr}
  supplier_name: {column: [Leverandør, Leverandørnavn]}
  account: {column: [Konto, Kontonr]}
  amount_excl_vat: {column: [Beløp, Netto]}
  department: {concat: [[Ansvar, Avdeling], Prosjekt], separator: "/"}
amount: {sign_column: [DK, D/K], negative_values: [K]}
art:
  account_mapping: verdal-chart.csv
exclude_rows:
  - {column: Type, equals: Inntekt, reason: "income, not spend"}
  - {column: [Konto, Kontonr], matches: '^[12]', reason: "balance sheet (classes 1-2)"}
"""
CHART = """
account,supplier,art,note
64*,,115,food and office consumables
65*,,200,equipment
6550,,270,services: an exact code beats the prefix
65*,916750439,115,this supplier's 65xx purchases are office supplies
,Kommunekassen,350,lines without an account from the neighbour municipality
"""
# (row as written, outcome, amount as the file writes it: what the file's own total adds)
FIRST = (
    "Bilagsnr;Fakturadato;Orgnr;Leverandør;Konto;Beløp;Ansvar;Prosjekt;DK;Type",
    [
        ("V1;5032024;923609016;Data AS;6510;10 000,00;A1;P1;D;Faktura", "loaded", "10000.00"),
        ("V2;15032024;974760673;Kontor AS;6400;2 000,50;A1;P1;D;Faktura", "loaded", "2000.50"),
        ("V3;1032024;974760673;Kontor AS;6400;500,00;A1;P2;K;Kreditnota", "loaded", "-500.00"),
        ("V4;2032024;916750439;Data Norge AS;6520;3 000,00;A1;P1;D;Faktura", "loaded", "3000"),
        ("V5;3032024;;Kommunekassen;;700,00;A2;P1;D;Faktura", "loaded", "700.00"),
        ("V6;4032024;;Ukjent AS;9999;2 000,00;A2;P1;D;Faktura", "loaded", "2000.00"),
        ("V7;6032024;;Salg;3000;1 500,00;A2;P1;K;Inntekt", "excluded", "-1500.00"),
        ("V8;7032024;;Bank;1920;25 000,00;A2;P1;D;Faktura", "excluded", "25000.00"),
        ("V9;30022024;923609016;Data AS;6510;10,00;A1;P1;D;Faktura", "rejected", "10.00"),
        ("V10;31032024;923609016;Data AS;6550;400,00;A1;P1;D;Faktura", "loaded", "400.00"),
        ("V11;9032024;;Rørlegger Hansen;6400;150 000,00;A1;P1;D;Faktura", "loaded", "150000"),
    ],
)
SECOND = (  # the next quarter: five columns renamed
    "Bilag;Dato;Orgnr;Leverandørnavn;Kontonr;Netto;Avdeling;Prosjekt;D/K;Type",
    [
        ("W1;1062024;923609016;Data AS;6510;1 234,56;A2;P1;D;Faktura", "loaded", "1234.56"),
        ("W2;30062024;974760673;Kontor AS;6400;99,90;A2;P1;D;Faktura", "loaded", "99.90"),
        ("W3;15.06.2024;974760673;Kontor AS;6400;50,00;A2;P1;D;Faktura", "loaded", "50.00"),
        (";1062024;974760673;Kontor AS;6400;75,00;A2;P1;D;Faktura", "rejected", "75.00"),
        ("W5;2062024;;Kommunekassen;;300,00;A2;P1;D;Faktura", "loaded", "300.00"),
        ("W6;3062024;;Bank;2000;9 999,00;A2;P1;D;Faktura", "excluded", "9999.00"),
        ("W7;4062024;;Rørlegger Hansen;6400;20 000,00;A1;P1;K;Kreditnota", "loaded", "-20000"),
    ],
)


def _write_cooperation(folder: Path) -> Path:
    write(
        folder / "taxonomy.csv",
        """
        category_id,category_name,parent_id
        it,IT,
        it.hardware,IT-utstyr,it
        office,Kontor,
        office.supplies,Kontorrekvisita,office
        """,
    )
    write(
        folder / "classification_rules.csv",
        """
        rule_type,pattern,category_id
        supplier,923609016,it.hardware
        art,115,office.supplies
        art,200,it.hardware
        """,
    )
    write(
        folder / "agreements.csv",
        f"""
        {AGREEMENTS_HEADER}
        A1,IT hardware,cooperation,it.hardware,923609016,*,2024-01-01,2024-12-31,0.0225
        A2,Office,local,office.supplies,974760673,5038,2024-01-01,2024-12-31,
        """,
    )
    write(
        folder / "spend_5037.csv",
        f"""
        {CANONICAL_HEADER}
        5037,F1,1,2024-03-05,923609016,Data AS,11500,115,1000.00,NOK,30213000-5,CPV,PC,,
        5037,F2,1,2024-07-01,974760673,Kontor AS,11500,115,300.00,NOK,,,,,
        """,
    )
    write(folder / "verdal-erp.yaml", PROFILE)
    write(folder / "verdal-chart.csv", CHART)
    for name, (header, rows) in (("2024-q1.csv", FIRST), ("2024-q2.csv", SECOND)):
        write(folder / "verdal" / name, header + "\n" + "\n".join(r for r, _, _ in rows) + "\n")
    return write(folder / "cooperation.yml", CONFIG)


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def profile_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    config = _write_cooperation(tmp_path_factory.mktemp("profile_features"))
    return config, samkjop("run", "--config", str(config))


def _snapshot(config: Path) -> Path:
    return config.parent / "warehouse" / "samkjop.snapshot.duckdb"


def test_the_run_publishes_and_matches_the_independent_implementation(profile_run):
    config, result = profile_run
    assert result.returncode == 0, result.stdout + result.stderr
    oracle = _check_against_oracle(config)
    rows = FIRST[1] + SECOND[1]
    assert oracle.excluded_lines == sum(outcome == "excluded" for _, outcome, _ in rows)
    assert oracle.rejected_lines == sum(outcome == "rejected" for _, outcome, _ in rows)


@pytest.mark.parametrize(("name", "content"), [("2024-q1.csv", FIRST), ("2024-q2.csv", SECOND)])
def test_every_row_is_loaded_excluded_or_rejected_and_the_amounts_reconcile(
    profile_run, name, content
):
    config, result = profile_run
    assert result.returncode == 0, result.stdout + result.stderr
    (delivery,) = _rows(
        _snapshot(config),
        f"SELECT * FROM marts.delivery_reconciliation WHERE source_file LIKE '%{name}'",
    )
    rows = content[1]
    expected = {
        outcome: (
            sum(o == outcome for _, o, _ in rows),
            sum((Decimal(a) for _, o, a in rows if o == outcome), Decimal(0)),
        )
        for outcome in ("loaded", "excluded", "rejected")
    }
    assert delivery["rows_read"] == len(rows)
    assert delivery["rows_loaded"] == expected["loaded"][0]
    assert delivery["rows_excluded"] == expected["excluded"][0]
    assert delivery["rows_rejected"] == expected["rejected"][0]
    assert delivery["amount_loaded"] == expected["loaded"][1]
    assert delivery["amount_excluded"] == expected["excluded"][1]
    file_total = sum((Decimal(a) for _, _, a in rows), Decimal(0))
    assert (
        delivery["amount_loaded"] + delivery["amount_excluded"] + expected["rejected"][1]
        == file_total
    )


def test_excluded_rows_keep_their_reason(profile_run, tmp_path, capsys):
    config, _ = profile_run
    excluded = _rows(
        _snapshot(config),
        "SELECT source_file, source_row, reason, amount_excl_vat FROM marts.excluded_rows "
        "ORDER BY source_file, source_row",
    )
    assert [(Path(r["source_file"]).name, r["source_row"], r["reason"]) for r in excluded] == [
        ("2024-q1.csv", 7, "income, not spend"),
        ("2024-q1.csv", 8, "balance sheet (classes 1-2)"),
        ("2024-q2.csv", 6, "balance sheet (classes 1-2)"),
    ]
    exported = samkjop_here(
        capsys,
        "export",
        "excluded_rows",
        "--config",
        str(config),
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        "--municipality",
        "5038",
        "--year",
        "2024",
    )
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "excluded_rows.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3


def test_arts_by_prefix_supplier_and_supplier_only(profile_run):
    config, _ = profile_run
    arts = {
        r["invoice_id"]: (r["art"], r["department"], str(r["invoice_date"]))
        for r in _rows(
            _snapshot(config),
            "SELECT invoice_id, art, department, invoice_date FROM marts.fct_spend_lines "
            "WHERE municipality_id = '5038'",
        )
    }
    assert arts == {
        "V1": ("200", "A1/P1", "2024-03-05"),  # 65* and the unpadded day
        "V2": ("115", "A1/P1", "2024-03-15"),  # 64*
        "V3": ("115", "A1/P2", "2024-03-01"),
        "V4": ("115", "A1/P1", "2024-03-02"),  # 65* for this supplier
        "V5": ("350", "A2/P1", "2024-03-03"),  # no account: the supplier-only row
        "V6": (None, "A2/P1", "2024-03-04"),  # unmapped
        "V10": ("270", "A1/P1", "2024-03-31"),  # the exact code
        "V11": ("115", "A1/P1", "2024-03-09"),
        "W1": ("200", "A2/P1", "2024-06-01"),  # the renamed columns
        "W2": ("115", "A2/P1", "2024-06-30"),
        "W3": ("115", "A2/P1", "2024-06-15"),  # the second date format
        "W5": ("350", "A2/P1", "2024-06-02"),
        "W7": ("115", "A1/P1", "2024-06-04"),
    }


def test_unmapped_codes_and_the_end_of_run_warning(profile_run, tmp_path, capsys):
    config, _ = profile_run
    snapshot = _snapshot(config)
    (row,) = _rows(snapshot, "SELECT * FROM marts.unmapped_codes")
    total = sum((Decimal(a) for _, o, a in FIRST[1] + SECOND[1] if o == "loaded"), Decimal(0))
    assert (row["municipality_id"], row["year"], row["account_code"], row["art"]) == (
        "5038",
        2024,
        "9999",
        None,
    )
    assert (row["line_count"], row["amount"], row["member_total_spend"]) == (
        1,
        Decimal("2000"),
        total,
    )
    assert row["share_of_member_spend"] == pytest.approx(float(Decimal(2000) / total))
    assert row["largest_supplier_name"] == "Ukjent AS"
    assert row["share_of_member_spend"] < 0.05
    assert unmapped_code_warnings(snapshot, 0.05) == []
    (warning,) = unmapped_code_warnings(snapshot, 0.01)
    assert warning.startswith("5038 Verdal 2024: 1.3% of its spend (2,000.00 on 1 lines)")
    exported = samkjop_here(
        capsys,
        "export",
        "unmapped_codes",
        "--config",
        str(config),
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        "--year",
        "2024",
    )
    assert exported.returncode == 0, exported.stderr


def test_the_oracle_reads_the_profile_on_its_own(profile_run):
    """The oracle's lines for Verdal: the loaded rows of both files, by its own reading."""
    config, _ = profile_run
    oracle = Oracle(config)
    verdal = sorted(
        (line.day.isoformat(), line.amount, line.art)
        for line in oracle.lines
        if line.municipality_id == "5038"
    )
    warehouse = sorted(
        (str(r["invoice_date"]), r["amount"], r["art"])
        for r in _rows(
            _snapshot(config),
            "SELECT invoice_date, amount, art FROM marts.fct_spend_lines "
            "WHERE municipality_id = '5038'",
        )
    )
    assert verdal == warehouse
