"""fct_spend_lines is built delivery by delivery (pipelines/incremental.py): after a new
delivery and a correction that replaces an earlier one, the published marts equal those of
a full rebuild, cell for cell; a change to the rules' reference data rebuilds in full."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import incremental
from tests.benchmarks.delivery import write_delivery

SAMKJOP = str(Path(sys.executable).parent / "samkjop")
FULL_REBUILD = "spend lines rebuilt in full"
REDELIVERED_MEMBER = "5036"  # canonical files; declared monthly below, so a new file replaces


def _samkjop(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([SAMKJOP, *args], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _declare_months(config: Path, member: str) -> None:
    text = config.read_text(encoding="utf-8")
    entry = f"      - path: spend/{member}/*.csv\n        profile: canonical\n"
    assert entry in text
    period = "        period: {from_name: '_(?P<year>\\d{4})-(?P<month>\\d{2})'}\n"
    config.write_text(text.replace(entry, entry + period), encoding="utf-8")


def _redeliver_a_month(demo: Path, member: str) -> None:
    """The member sends one month again, corrected: every second line left out."""
    month = sorted((demo / "spend" / member).glob(f"{member}_*.csv"))[2]
    header, *lines = month.read_text(encoding="utf-8").splitlines()
    month.write_text("\n".join([header, *lines[::2]]) + "\n", encoding="utf-8")


def _marts(snapshot: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
                "AND table_name <> 'snapshot_info' ORDER BY table_name"
            ).fetchall()
        ]
        return {
            table: sorted(
                con.execute(f"SELECT * FROM marts.{table}").fetchall(),
                key=lambda row: tuple((value is None, str(value)) for value in row),
            )
            for table in tables
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("incremental")
    _samkjop("demo", "--out", str(folder), "--lines", "3000")
    _declare_months(folder / "cooperation.yml", REDELIVERED_MEMBER)
    first = _samkjop("run", "--config", str(folder / "cooperation.yml"))
    assert f"{FULL_REBUILD} (first build)" in first.stdout
    return folder


@pytest.mark.system  # `make test-system` (four runs of samkjop: about 4 minutes)
def test_a_delivery_and_a_correction_built_incrementally_equal_a_full_rebuild(demo):
    config = str(demo / "cooperation.yml")
    write_delivery(demo, "5035", lines=400)
    _redeliver_a_month(demo, REDELIVERED_MEMBER)
    incremental_run = _samkjop("run", "--config", config)
    assert FULL_REBUILD not in incremental_run.stdout
    assert "replaced" in incremental_run.stdout
    for member in ("5026", "5032", "5033", "5034"):  # no new file: not read again
        assert re.search(rf"{member} .*: nothing new since the last run", incremental_run.stdout)
    assert not re.search(r"(5035|5036) .*: nothing new", incremental_run.stdout)
    snapshot = demo / "warehouse" / "samkjop.snapshot.duckdb"
    built_incrementally = _marts(snapshot)
    kept = shutil.copyfile(snapshot, demo / "incremental.duckdb")

    full_run = _samkjop("run", "--config", config, "--full")
    assert FULL_REBUILD in full_run.stdout
    assert "nothing new since the last run" not in full_run.stdout  # --full reads every file
    rebuilt = _marts(snapshot)
    assert built_incrementally.keys() == rebuilt.keys()
    for table, rows in rebuilt.items():
        assert built_incrementally[table] == rows, f"marts.{table} differs from a full rebuild"
    lines = duckdb.connect(str(kept), read_only=True).execute(
        "SELECT count(*) FROM marts.fct_spend_lines WHERE invoice_id LIKE 'B%'"
    )
    assert lines.fetchone()[0] == 400  # the new delivery is in


@pytest.mark.system
def test_a_changed_classification_rule_rebuilds_the_lines_in_full(demo):
    rules = demo / "classification_rules.csv"
    rules.write_text(
        rules.read_text(encoding="utf-8") + "art,11500,it.hardware\n", encoding="utf-8"
    )
    result = _samkjop("run", "--config", str(demo / "cooperation.yml"))
    assert FULL_REBUILD in result.stdout


def _warehouse_with(tmp_path: Path, rule_category: str, extra_lines: int) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.classification_rules (rule_type VARCHAR, pattern VARCHAR)")
    con.execute("INSERT INTO raw.classification_rules VALUES ('art', ?)", [rule_category])
    con.execute("CREATE TABLE raw.spend_lines (delivery_id VARCHAR, amount DECIMAL(18, 4))")
    con.execute("INSERT INTO raw.spend_lines SELECT 'd' || range, 1 FROM range(?)", [extra_lines])
    con.close()
    return warehouse


def test_the_fingerprint_follows_reference_data_and_settings_not_deliveries(tmp_path):
    settings = {"thresholds": [100000]}
    base = incremental.line_model_inputs(_warehouse_with(tmp_path, "IT", 1), settings)
    more_lines = incremental.line_model_inputs(_warehouse_with(tmp_path, "IT", 5), settings)
    other_rule = incremental.line_model_inputs(_warehouse_with(tmp_path, "FOOD", 1), settings)
    warehouse = _warehouse_with(tmp_path, "IT", 1)
    other_setting = incremental.line_model_inputs(warehouse, {"thresholds": [200000]})
    assert more_lines == base
    assert other_rule != base
    assert other_setting != base


def test_the_record_is_kept_in_the_warehouse_and_can_be_forgotten(tmp_path):
    warehouse = _warehouse_with(tmp_path, "IT", 1)
    assert incremental.recorded(warehouse) is None
    incremental.record(warehouse, "abc")
    assert incremental.recorded(warehouse) == "abc"
    incremental.forget(warehouse)
    assert incremental.recorded(warehouse) is None


def test_the_line_model_outcome_is_read_from_dbt_run_results(tmp_path):
    results = tmp_path / "run_results.json"
    assert incremental.line_model_outcome(results) is None
    results.write_text(
        '{"results": [{"unique_id": "model.samkjop.fct_spend_lines", "status": "error"}]}'
    )
    assert incremental.line_model_outcome(results) == "error"
    results.write_text('{"results": [{"unique_id": "model.samkjop.suppliers", "status": "x"}]}')
    assert incremental.line_model_outcome(results) is None
