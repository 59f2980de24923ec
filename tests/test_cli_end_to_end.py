"""`samkjop run` end to end, checked against an independent computation of BRIEF §4."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.export import EXPORT_TABLES
from tests.conftest import write_innherred, write_innherred_with_supplier_register
from tests.oracle import Oracle

AMOUNT_TOLERANCE = Decimal("0.01")
AMOUNTS = (
    "total_spend",
    "influenceable_spend",
    "covered_spend",
    "on_agreement_spend",
    "off_agreement_spend",
    "shared_covered_spend",
    "shared_on_agreement_spend",
    "unclassified_spend",
)
RATIOS = ("coverage", "loyalty", "shared_coverage", "shared_loyalty", "supplier_loyalty")
DEMO_WITHOUT_ROWS = {"excluded_rows"}  # exportable tables the demo leaves empty by design


def samkjop(*args: str) -> subprocess.CompletedProcess:
    """The installed console script, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "samkjop"), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def samkjop_here(capsys, *args: str) -> subprocess.CompletedProcess:
    """The same CLI entry point in this process (fast enough to call many times)."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def _rows(snapshot: Path, sql: str) -> list[dict]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        result = con.execute(sql)
        names = [c[0] for c in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def _assert_same(actual: dict, expected: dict, columns: tuple[str, ...], key) -> None:
    for column in columns:
        want, got = expected.get(column), actual[column]
        if column in RATIOS or column in ("coverage", "loyalty"):
            if want is None:
                assert got is None, f"{key} {column}: expected undefined (NULL), got {got}"
            else:
                assert got == pytest.approx(want, abs=1e-9), f"{key} {column}"
        else:
            assert abs(Decimal(str(got or 0)) - (want or Decimal(0))) <= AMOUNT_TOLERANCE, (
                f"{key} {column}: warehouse {got}, independent {want}"
            )


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def innherred_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    config = write_innherred(tmp_path_factory.mktemp("innherred"))
    return config, samkjop("run", "--config", str(config))


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def register_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    config = write_innherred_with_supplier_register(tmp_path_factory.mktemp("register"))
    return config, samkjop("run", "--config", str(config))


@pytest.mark.xdist_group("demo_run")
def test_demo_run_succeeds_and_prints_kpis(demo_run):
    config, result = demo_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Key figures" in result.stdout
    for member in ("5035 Stjørdal", "5032 Selbu", "5026 Holtålen", "ALL"):
        assert member in result.stdout
    progress = re.findall(
        r"dbt: (\d+) of (\d+) models and seeds built; data tests: (\d+) passed", result.stdout
    )
    built, total, passed = progress[-1]  # the last line: the build is done
    assert built == total and int(passed) > 100, result.stdout
    assert re.search(r"published \d+ tables in \d+\.\d s", result.stdout)


@pytest.mark.xdist_group("demo_run")
def test_demo_kpis_match_an_independent_computation(demo_run):
    config, result = demo_run
    assert result.returncode == 0, result.stderr
    _check_against_oracle(config)


@pytest.mark.xdist_group("demo_run")
def test_demo_reconciles_every_row(demo_run):
    config, _ = demo_run
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    deliveries = _rows(snapshot, "SELECT * FROM marts.delivery_reconciliation")
    assert deliveries and all(d["status"] == "loaded" for d in deliveries)
    for d in deliveries:
        assert d["rows_read"] == d["rows_loaded"] + d["rows_rejected"] + d["rows_excluded"]
        with open(d["source_file"], "rb") as handle:
            records = sum(1 for line in handle if line.strip()) - 1
        assert d["rows_read"] == records, d["source_file"]
    lines = _rows(snapshot, "SELECT count(*) AS n FROM marts.fct_spend_lines")[0]["n"]
    rejected = _rows(snapshot, "SELECT count(*) AS n FROM marts.rejected_rows")[0]["n"]
    excluded = _rows(snapshot, "SELECT count(*) AS n FROM marts.excluded_rows")[0]["n"]
    assert lines + rejected + excluded == sum(d["rows_read"] for d in deliveries)
    assert rejected > 0  # the demo leaves one month of a currency without a rate
    reasons = _rows(snapshot, "SELECT DISTINCT reason FROM marts.rejected_rows")
    assert {r["reason"][:24] for r in reasons} == {"no exchange rate for SEK"}  # nothing else


@pytest.mark.xdist_group("demo_run")
@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_export_every_table(demo_run, tmp_path, fmt, capsys):
    config, _ = demo_run
    for table, spec in EXPORT_TABLES.items():
        member = ["--municipality", "5035"] if spec.per_municipality else []
        result = samkjop_here(
            capsys,
            "export",
            table,
            "--config",
            str(config),
            "--format",
            fmt,
            "--out",
            str(tmp_path),
            *member,
            "--year",
            "2025",
            *(["--allow-empty"] if table in DEMO_WITHOUT_ROWS else []),
        )
        assert result.returncode == 0, result.stderr
        assert (tmp_path / f"{table}.{fmt}").stat().st_size > 0
        if fmt == "csv":
            with open(tmp_path / f"{table}.csv", newline="") as handle:
                rows = list(csv.DictReader(handle))
            # the demo's profiles exclude no rows: tests/test_profile_end_to_end.py exports
            # excluded_rows with rows
            assert rows or table in DEMO_WITHOUT_ROWS, f"{table}: no rows for 5035 in 2025"
    if fmt == "csv":
        with open(tmp_path / "municipality_kpis.csv", newline="") as handle:
            (row,) = list(csv.DictReader(handle))
        assert (row["municipality_id"], row["year"]) == ("5035", "2025")
        assert 0 < float(row["loyalty"]) <= 1


@pytest.mark.xdist_group("demo_run")
def test_export_spend_lines_and_status(demo_run, tmp_path, capsys):
    config, _ = demo_run
    result = samkjop_here(
        capsys,
        "export",
        "spend_lines",
        "--config",
        str(config),
        "--format",
        "parquet",
        "--out",
        str(tmp_path),
        "--year",
        "2024",
    )
    assert result.returncode == 0, result.stderr
    years = duckdb.sql(f"SELECT DISTINCT year FROM '{tmp_path / 'spend_lines.parquet'}'").fetchall()
    assert years == [(2024,)]
    status = samkjop_here(capsys, "status", "--config", str(config))
    assert status.returncode == 0 and "5034 Meråker" in status.stdout and "loaded" in status.stdout


@pytest.mark.xdist_group("demo_run")
def test_export_errors_are_messages_not_tracebacks(demo_run, tmp_path):
    config, _ = demo_run
    result = samkjop(
        "export",
        "municipality_kpis",
        "--config",
        str(config),
        "--out",
        str(tmp_path),
        "--municipality",
        "9999",
    )
    assert result.returncode == 1
    assert "--municipality '9999' is not a member" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.xdist_group("demo_run")
def test_a_run_with_nothing_new_loads_builds_and_publishes_nothing(demo_run):
    config, first = demo_run
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    before = snapshot.stat()

    again = samkjop("run", "--config", str(config))

    assert again.returncode == first.returncode, again.stdout + again.stderr
    assert "nothing new since the run of" in again.stdout
    assert "Loading definitions" not in again.stdout
    after = snapshot.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.xdist_group("innherred_run")
def test_a_cooperation_in_the_standard_format_gives_the_brief_numbers(innherred_run):
    config, result = innherred_run
    assert result.returncode == 0, result.stdout + result.stderr
    _check_against_oracle(config)
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    (kpis,) = _rows(
        snapshot,
        "SELECT * FROM marts.municipality_kpis WHERE municipality_id = '5037' AND year = 2024",
    )
    # 1000 - 100 (credit note) on A1's supplier; 200.50 EUR × 11.50; 300 on A2; payroll excluded
    assert kpis["total_spend"] == Decimal("8505.75")
    assert kpis["influenceable_spend"] == Decimal("3505.75")
    assert kpis["covered_spend"] == Decimal("1200")  # F1 (A1, via CPV 302) + F3 (A2 from June)
    assert kpis["on_agreement_spend"] == Decimal("1200")
    flags = {
        (r["supplier_key"], r["category_id"], r["month_end"].isoformat(), r["threshold"]): (
            r["trailing_12m_spend"],
            r["has_agreement_for_category"],
        )
        for r in _rows(snapshot, "SELECT * FROM marts.threshold_flags")
    }
    hansen = ("name:rørlegger hansen", "unclassified")  # no valid number; names as written vary
    assert flags == {
        # G2: covered by A2 (office supplies, 5037, to 2025-05-31) but not A2's supplier
        ("916750439", "office.supplies", "2025-02-28", 100_000): (Decimal(1_400_000), True),
        ("916750439", "office.supplies", "2025-02-28", 1_300_000): (Decimal(1_400_000), True),
        # G1 60 000 + G3 45 000; G6's credit note drops it to 85 000, G7 +30 000 crosses again
        (*hansen, "2025-03-31", 100_000): (Decimal(105_000), False),
        (*hansen, "2025-06-30", 100_000): (Decimal(115_000), False),
        # 2026-01: G1 left the window (55 000); G8 +50 000 crosses a third time
        (*hansen, "2026-02-28", 100_000): (Decimal(105_000), False),
    }  # G4 (excluded supplier) and G5 (rent, art 190) never count


def _check_against_oracle(config: Path) -> Oracle:
    oracle = Oracle(config)
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    expected = oracle.municipality_kpis()
    actual = {
        (r["municipality_id"], r["year"]): r
        for r in _rows(snapshot, "SELECT * FROM marts.municipality_kpis")
    }
    assert set(actual) == set(expected)
    for key, row in actual.items():
        _assert_same(row, expected[key], AMOUNTS + RATIOS, key)
    expected_categories = oracle.category_kpis()
    actual_categories = {
        (r["municipality_id"], r["year"], r["category_id"]): r
        for r in _rows(snapshot, "SELECT * FROM marts.category_kpis")
    }
    assert set(actual_categories) == set(expected_categories)
    for key, row in actual_categories.items():
        _assert_same(
            row,
            expected_categories[key],
            ("influenceable_spend", "covered_spend", "on_agreement_spend", "coverage", "loyalty"),
            key,
        )
    _check_threshold_flags(oracle, snapshot)
    return oracle


def _check_threshold_flags(oracle: Oracle, snapshot: Path) -> None:
    """Rule 9: every row of marts.threshold_flags, and no other, as the oracle reads it."""
    expected = oracle.threshold_flags()
    actual = {
        (
            r["municipality_id"],
            r["supplier_key"],
            r["category_id"],
            r["month_end"],
            Decimal(r["threshold"]),
        ): r
        for r in _rows(snapshot, "SELECT * FROM marts.threshold_flags")
    }
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    assert not missing and not extra, (
        f"threshold_flags: {len(missing)} crossings only in the independent computation "
        f"{missing[:5]}, {len(extra)} only in the warehouse {extra[:5]}"
    )
    for key, row in actual.items():
        want = expected[key]
        assert abs(row["trailing_12m_spend"] - want["trailing_12m_spend"]) <= AMOUNT_TOLERANCE, (
            f"{key} trailing_12m_spend: warehouse {row['trailing_12m_spend']}, "
            f"independent {want['trailing_12m_spend']}"
        )
        assert row["has_agreement_for_category"] is want["has_agreement_for_category"], key


@pytest.mark.xdist_group("demo_run")
def test_dashboard_renders_on_the_published_demo_snapshot(demo_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    config, _ = demo_run
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(snapshot))
    app = AppTest.from_file(
        str(Path(__file__).parents[1] / "dashboards" / "streamlit_app.py"), default_timeout=60
    ).run()
    assert not app.exception
    (kpis,) = _rows(
        snapshot,
        "SELECT loyalty FROM marts.municipality_kpis WHERE municipality_id = 'ALL' AND year = 2025",
    )
    from dashboards.formatting import format_percent  # the demo is Norwegian: bokmål

    shown = {metric.label: metric.value for metric in app.metric}
    assert shown["Avtalelojalitet"] == format_percent(kpis["loyalty"], "nb")


@pytest.mark.xdist_group("demo_run")
def test_followup_page_renders_every_section_on_the_demo_snapshot(demo_run, monkeypatch):
    from streamlit.testing.v1 import AppTest

    config, _ = demo_run
    monkeypatch.setenv(
        "SAMKJOP_SNAPSHOT", str(config.parent / "warehouse" / "samkjop.snapshot.duckdb")
    )
    app = AppTest.from_file(
        str(Path(__file__).parents[1] / "dashboards" / "app_pages" / "followup.py"),
        default_timeout=60,
    ).run()
    assert not app.exception
    assert [w.value for w in app.warning] == []  # no mart or column missing


@pytest.mark.xdist_group("innherred_run")
def test_a_broken_delivery_is_rejected_whole_and_earlier_numbers_stay(
    innherred_run, capsys, smtp_server
):
    """... and the procurement unit gets an e-mail about it (a real local SMTP server)."""
    config, first = innherred_run
    assert first.returncode == 0, first.stderr
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    before = _rows(snapshot, "SELECT * FROM marts.municipality_kpis ORDER BY municipality_id, year")
    (config.parent / "spend_5037_2024-08.csv").write_text(
        "invoice_id,amount\nX1,100\n", encoding="utf-8"
    )  # not the standard format
    config.write_text(
        config.read_text(encoding="utf-8").replace("path: spend_5037.csv", "path: spend_5037*.csv"),
        encoding="utf-8",
    )
    with open(config.parent / "agreements.csv", "a", encoding="utf-8") as register:
        # a framework not awarded yet (no supplier), for a category no line has
        register.write("A3,Ikke tildelt,local,office,,5037,2024-01-01,2024-12-31,\n")

    port, inbox = smtp_server
    with open(config, "a", encoding="utf-8") as settings:
        settings.write(
            f"alerts:\n  email: {{to: innkjop@innherred.no, from: samkjop@innherred.no, "
            f"smtp_host: 127.0.0.1, smtp_port: {port}}}\n"
        )

    second = samkjop("run", "--config", str(config))

    assert second.returncode == 2, second.stdout + second.stderr
    assert "spend_5037_2024-08.csv: missing required column 'municipality_id'" in second.stdout
    ((recipients, mail),) = inbox.messages
    assert recipients == ["innkjop@innherred.no"]
    assert mail["Subject"] == "Samkjøp Innherred innkjøp: delivery rejected"
    text = mail.get_content().replace("\r\n", "\n")
    assert "delivery rejected: 5037 Levanger\n  file: spend_5037_2024-08.csv" in text
    assert "Note: 1 agreement names no supplier yet (A3)" in second.stdout
    assert (
        _rows(snapshot, "SELECT * FROM marts.municipality_kpis ORDER BY municipality_id, year")
        == before
    )
    (delivery,) = _rows(
        snapshot, "SELECT * FROM marts.delivery_reconciliation WHERE status = 'rejected'"
    )
    assert delivery["source_file"].endswith("spend_5037_2024-08.csv")
    status = samkjop_here(capsys, "status", "--config", str(config))
    assert "rejected" in status.stdout and "missing required column" in status.stdout
    assert ": published; some deliveries were rejected (exit code 2)" in status.stdout
    assert "rejected delivery: spend_5037_2024-08.csv: missing required column" in status.stdout
    assert "5037 Levanger: 2 deliveries, last accepted " in status.stdout
    assert "(spend_5037.csv); 1 rejected whole" in status.stdout
    assert "Every member is on time (one delivery per member per month)." in status.stdout

    # the same snapshot a year later: the member is overdue (a copy, read through a config
    # that names it; the shared snapshot stays as it is)
    late = config.parent / "a-year-later.snapshot.duckdb"
    late.write_bytes(snapshot.read_bytes())
    con = duckdb.connect(str(late))
    con.execute("UPDATE marts.delivery_reconciliation SET loaded_at = loaded_at - INTERVAL 400 DAY")
    con.close()
    later = config.parent / "a-year-later.yml"
    later.write_text(config.read_text(encoding="utf-8") + f"snapshot: {late}\n", encoding="utf-8")
    status = samkjop_here(capsys, "status", "--config", str(later))
    assert "Overdue: 5037 Levanger" in status.stdout
    assert "  OVERDUE: last accepted delivery " in status.stdout
    assert "days overdue (one delivery per member per month)" in status.stdout


@pytest.mark.xdist_group("innherred_run")
def test_a_corrected_delivery_never_doubles_spend(innherred_run, tmp_path):
    """The member re-delivers the file under the same name and the cooperation declared
    `period: file` (each file name is one period): the new content replaces the old."""
    config, first = innherred_run
    assert first.returncode == 0, first.stderr
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    spend = config.parent / "spend_5037.csv"
    original = spend.read_text(encoding="utf-8")
    spend.write_text(  # the same period, one amount corrected: F3 300.00 -> 350.00
        original.replace(
            "974760673,Kontor AS,11500,115,300.00", "974760673,Kontor AS,11500,115,350.00"
        ),
        encoding="utf-8",
    )
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "        profile: canonical\n", "        profile: canonical\n        period: file\n", 1
        ),
        encoding="utf-8",
    )

    result = samkjop("run", "--config", str(config))

    assert result.returncode in (0, 2), result.stdout + result.stderr
    assert "spend_5037.csv replaced spend_5037.csv (period spend_5037.csv)" in result.stdout
    (kpis,) = _rows(
        snapshot,
        "SELECT * FROM marts.municipality_kpis WHERE municipality_id = '5037' AND year = 2024",
    )
    assert kpis["total_spend"] == Decimal("8555.75")  # 8505.75 + 50, not doubled
    statuses = sorted(
        (r["status"], r["rows_loaded"])
        for r in _rows(snapshot, "SELECT * FROM marts.delivery_reconciliation")
        if r["source_file"].endswith("spend_5037.csv")
    )
    assert statuses == [("loaded", 13), ("replaced", 13)]


@pytest.mark.xdist_group("register_run")
def test_suppliers_without_a_number_are_found_through_the_supplier_register(register_run):
    """BRIEF §4 rule 5: a line without a valid organisation number is identified by the
    cooperation's supplier register (vendor number, name, name pattern); agreements, supplier
    rules and exclusions name register suppliers by their id. Every figure as the
    independent implementation computes it, and the identities line by line."""
    config, result = register_run
    assert result.returncode == 0, result.stdout + result.stderr
    _check_against_oracle(config)
    snapshot = config.parent / "warehouse" / "samkjop.snapshot.duckdb"
    lines = {
        r["invoice_id"]: (
            r["supplier_key"],
            r["supplier_identified_by"],
            r["category_id"],
            r["is_influenceable"],
            r["is_on_agreement"],
        )
        for r in _rows(
            snapshot,
            "SELECT * FROM marts.fct_spend_lines "
            "WHERE invoice_id IN ('R1', 'K1', 'K2', 'K3', 'K4', 'K5', 'X1')",
        )
    }
    assert lines == {
        "R1": ("916750439", "name", "it.hardware", True, True),  # S-DATA's number, on A1
        "K1": ("register:S-KORT", "local_id", "office.supplies", True, True),  # Verdal's V-77
        "K2": ("name:butikk 77", None, "office.supplies", True, False),  # V-77 is Verdal's only
        "K3": ("register:S-KORT", "name_pattern", "office.supplies", True, True),
        "K4": ("register:S-KORT", "name_pattern", "office.supplies", True, True),  # its rule
        "K5": ("register:S-KORT", "name_pattern", "office.supplies", True, False),  # A3 ended
        "X1": ("register:S-IKS", "name", None, False, False),  # excluded by its register id
    }
    flags = {
        (r["municipality_id"], r["supplier_key"], r["month_end"].isoformat())
        for r in _rows(snapshot, "SELECT * FROM marts.threshold_flags")
    }
    assert ("5037", "name:butikk 77", "2024-09-30") in flags
    assert ("5038", "register:S-KORT", "2026-01-31") in flags
    suppliers = {
        r["supplier_key"]: r
        for r in _rows(snapshot, "SELECT * FROM marts.suppliers WHERE year = 2024")
    }
    assert suppliers["register:S-KORT"]["supplier_name"] == "Kortbutikken"
    assert suppliers["register:S-KORT"]["holds_agreement"] is True
    assert suppliers["register:S-IKS"]["exclusion_reason"] == "inter-municipal company"
