"""The benchmark's yardstick and its phase log: the hand-written DuckDB script
(tests/benchmarks/reference_kpis.py) agrees with a real `samkjop run` on a tiny demo and with
the plain-Python oracle, its comparison fails when one figure of the snapshot is off, and
the run worker logs every phase when SAMKJOP_PHASE_LOG is set (pipelines/phase_log.py)."""

from __future__ import annotations

import csv
import shutil
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines import phase_log
from pipelines.demo import generate_demo
from tests.benchmarks import reference_kpis
from tests.benchmarks.bench import phases
from tests.benchmarks.delivery import write_delivery
from tests.conftest import DEMO_PHASE_LOG
from tests.oracle import Oracle

pytestmark = pytest.mark.xdist_group("demo_run")  # reads the shared demo run


@pytest.fixture
def tiny_run(demo_run) -> tuple[Path, subprocess.CompletedProcess, Path]:
    """The end-to-end tests' demo run (tests/conftest.py), with its phase log."""
    config, result = demo_run
    return config, result, config.parent / DEMO_PHASE_LOG


def _snapshot(config: Path) -> Path:
    return reference_kpis.snapshot_of(config)


def test_reference_agrees_with_the_published_snapshot(tiny_run):
    config, result, _ = tiny_run
    assert result.returncode == 0, result.stdout + result.stderr
    con = reference_kpis.compute(config)
    assert reference_kpis.differences(con, _snapshot(config)) == []
    members, lines = con.execute(
        "SELECT count(DISTINCT municipality_id), sum(spend_line_count) FILTER "
        "(WHERE municipality_id = 'ALL') FROM kpis"
    ).fetchone()
    assert members == 7  # six members and 'ALL'
    assert 0 < lines <= 20_000  # the demo's lines; those without an exchange rate are rejected
    assert reference_kpis.main(["--config", str(config)]) == 0


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ("covered_spend = covered_spend + 0.02", "covered_spend"),  # just over 0.01
        ("total_spend = total_spend - 0.02", "total_spend"),
        ("loyalty = loyalty + 1e-8", "loyalty"),  # just over 1e-9
        ("shared_coverage = NULL", "shared_coverage"),  # undefined on one side only
        ("spend_line_count = spend_line_count + 1", "spend_line_count"),
    ],
)
def test_the_comparison_fails_when_one_snapshot_figure_is_off(tiny_run, tmp_path, change, column):
    config, result, _ = tiny_run
    assert result.returncode == 0, result.stderr
    copy = tmp_path / "perturbed.snapshot.duckdb"
    shutil.copyfile(_snapshot(config), copy)
    con = duckdb.connect(str(copy))
    con.execute(
        f"UPDATE marts.municipality_kpis SET {change} "
        "WHERE municipality_id = '5033' AND year = 2025"
    )
    con.close()
    found = reference_kpis.differences(reference_kpis.compute(config), copy)
    assert len(found) == 1 and found[0].startswith(f"5033 2025 {column}:"), found
    assert reference_kpis.main(["--config", str(config), "--snapshot", str(copy)]) == 1


def test_the_comparison_fails_when_a_row_is_missing(tiny_run, tmp_path):
    config, result, _ = tiny_run
    assert result.returncode == 0, result.stderr
    copy = tmp_path / "perturbed.snapshot.duckdb"
    shutil.copyfile(_snapshot(config), copy)
    con = duckdb.connect(str(copy))
    con.execute("DELETE FROM marts.municipality_kpis WHERE municipality_id = 'ALL' AND year = 2024")
    con.close()
    found = reference_kpis.differences(reference_kpis.compute(config), copy)
    assert found == ["ALL 2024: a row only in the reference"]


def test_the_worker_logs_every_phase(tiny_run):
    config, result, log = tiny_run
    assert result.returncode == 0, result.stderr
    records = phase_log.read(log)
    assert [r["phase"] for r in records if r["phase"] != "step"] == (
        ["definitions"] + ["ingest"] * 6 + ["build", "summary"]
    )
    assert [r["member"] for r in records if r["phase"] == "ingest"] == [
        "5035",
        "5032",
        "5033",
        "5034",
        "5036",
        "5026",
    ]
    steps = {r["step_key"]: r for r in records if r["phase"] == "step"}
    assert {"samkjop_dbt_models", "published_snapshot"} <= set(steps)
    build = next(r for r in records if r["phase"] == "build")
    for record in records:
        assert record["wall_s"] >= 0 and record["cpu_s"] >= 0 and record["peak_rss_mib"] > 0
    for step in steps.values():
        assert build["start"] <= step["start"] <= step["end"] <= build["end"]
    # dbt runs as a child of the worker: its CPU counts in the dbt step
    assert steps["samkjop_dbt_models"]["cpu_s"] > 1
    # and the report adds up to the run's own figures
    run = {"wall_seconds": 100.0, "cpu_seconds": 80.0, "peak_rss_mib": 500.0}
    table = phases(records, run, {"5035": {"read": 10, "loaded": 10}}, {"5035": "Stjørdal"})
    assert table[-1]["name"] == "samkjop run total"
    parts = [row for row in table if not row.get("total")]
    assert sum(row["wall_s"] for row in parts) == pytest.approx(100.0, abs=0.1)
    assert sum(row["cpu_s"] for row in parts) == pytest.approx(80.0, abs=0.1)


def test_reference_agrees_with_the_oracle_with_an_extra_delivery(tmp_path):
    """Without a run: the script and the plain-Python oracle (tests/oracle.py) give the same
    figures on a demo with one member's extra delivery (tests/benchmarks/delivery.py)."""
    config = generate_demo(tmp_path, seed=7, lines=2_000)
    path = write_delivery(tmp_path, member="5035", lines=500)
    assert path.name == "5035_2026-01.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 500 and {r["invoice_date"][:7] for r in rows} == {"2026-01"}
    expected = Oracle(config).municipality_kpis()
    con = reference_kpis.compute(config)
    # the oracle's figures: every amount but unknown_art_spend, five ratios, no line count
    amounts = tuple(a for a in reference_kpis.AMOUNTS if a != "unknown_art_spend")
    names = amounts + reference_kpis.RATIOS[:5]
    got = con.execute(f"SELECT municipality_id, year, {', '.join(names)} FROM kpis").fetchall()
    assert {(member, year) for member, year, *_ in got} == set(expected)
    assert any(year == 2026 for _, year, *_ in got)
    for member, year, *values in got:
        want = expected[(member, year)]
        for name, value in zip(names, values, strict=True):
            if name in reference_kpis.RATIOS:
                if want.get(name) is None:
                    assert value is None, (member, year, name)
                else:
                    assert value == pytest.approx(want[name], abs=1e-9), (member, year, name)
            else:
                assert abs(value - want.get(name, Decimal(0))) <= Decimal("0.01"), (
                    member,
                    year,
                    name,
                )


def test_no_delivery_is_made_for_a_month_after_this_one(tmp_path):
    """The loader rejects invoice dates more than a year ahead: the benchmark's next monthly
    delivery stops at this month instead of measuring a delivery that is mostly rejected."""
    generate_demo(tmp_path, seed=7, lines=2_000)
    folder = tmp_path / "spend" / "5035"
    latest = max(folder.glob("5035_*.csv"))
    this_month = date.today().replace(day=1)
    latest.rename(folder / f"5035_{this_month:%Y-%m}.csv")
    with pytest.raises(SystemExit, match=f"after this month \\({this_month:%Y-%m}\\)"):
        write_delivery(tmp_path, member="5035", lines=10)
