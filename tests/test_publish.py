"""Publishing: the new snapshot equals the warehouse's marts; when the spend lines were built
from the same inputs as the published ones, it starts from a copy of the old snapshot and
only whole deliveries of fct_spend_lines change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines import incremental, publish


def _warehouse(tmp_path: Path, deliveries: dict[str, int], fingerprint: str | None) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        "CREATE OR REPLACE TABLE marts.fct_spend_lines "
        "(spend_line_key BIGINT, delivery_id VARCHAR, amount DECIMAL(18, 4))"
    )
    key = 0
    for delivery, lines in deliveries.items():
        for _ in range(lines):
            key += 1
            con.execute(
                "INSERT INTO marts.fct_spend_lines VALUES (?, ?, ?)", [key, delivery, key * 10]
            )
    con.execute(
        "CREATE OR REPLACE TABLE marts.municipality_kpis AS "
        "SELECT delivery_id, sum(amount) AS amount FROM marts.fct_spend_lines GROUP BY ALL"
    )
    con.close()
    incremental.record(warehouse, fingerprint)
    return warehouse


def _rows(database: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return sorted(con.execute(f"SELECT * FROM marts.{table}").fetchall())
    finally:
        con.close()


@pytest.fixture
def copies(monkeypatch) -> list[str]:
    copied: list[str] = []
    original = publish._copy

    def spy(con, table):
        copied.append(table)
        return original(con, table)

    monkeypatch.setattr(publish, "_copy", spy)
    return copied


def _same(warehouse: Path, snapshot: Path) -> None:
    for table in ("fct_spend_lines", "municipality_kpis"):
        assert _rows(snapshot, table) == _rows(warehouse, table)


def test_same_inputs_change_only_whole_deliveries(tmp_path, copies):
    snapshot = tmp_path / "snapshot.duckdb"
    warehouse = _warehouse(tmp_path, {"a": 3, "b": 2}, "rules-1")
    publish.publish_snapshot(warehouse, snapshot)
    assert copies == ["fct_spend_lines", "municipality_kpis"]
    copies.clear()
    warehouse = _warehouse(tmp_path, {"a": 3, "c": 4}, "rules-1")  # b replaced, c new
    counts = publish.publish_snapshot(warehouse, snapshot)
    assert copies == ["municipality_kpis"]
    assert counts["fct_spend_lines"] == 7
    _same(warehouse, snapshot)


def test_other_inputs_copy_every_table(tmp_path, copies):
    snapshot = tmp_path / "snapshot.duckdb"
    publish.publish_snapshot(_warehouse(tmp_path, {"a": 3}, "rules-1"), snapshot)
    copies.clear()
    warehouse = _warehouse(tmp_path, {"a": 3, "c": 1}, "rules-2")
    publish.publish_snapshot(warehouse, snapshot)
    assert copies == ["fct_spend_lines", "municipality_kpis"]
    _same(warehouse, snapshot)


def test_no_record_copies_every_table(tmp_path, copies):
    snapshot = tmp_path / "snapshot.duckdb"
    publish.publish_snapshot(_warehouse(tmp_path, {"a": 3}, None), snapshot)
    copies.clear()
    publish.publish_snapshot(_warehouse(tmp_path, {"a": 3, "c": 1}, None), snapshot)
    assert "fct_spend_lines" in copies


def test_lines_that_differ_inside_a_delivery_are_copied_in_full(tmp_path, copies):
    """A guard, never expected: the copy's row count must match; otherwise a full copy."""
    snapshot = tmp_path / "snapshot.duckdb"
    publish.publish_snapshot(_warehouse(tmp_path, {"a": 3}, "rules-1"), snapshot)
    warehouse = _warehouse(tmp_path, {"a": 5}, "rules-1")
    copies.clear()
    publish.publish_snapshot(warehouse, snapshot)
    assert copies == ["fct_spend_lines", "municipality_kpis"]
    _same(warehouse, snapshot)
