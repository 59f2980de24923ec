"""The comparison of `make spark-parity` (tests/spark/parity.py) on two small DuckDB
snapshots, without Spark: it finds each kind of difference, and only differences."""

from decimal import Decimal

import duckdb
import pytest

from tests.spark.parity import compare_snapshots, main

ROWS = [
    ("5035", 2024, Decimal("1000.0000"), 0.8, "a, b"),
    ("5032", 2024, Decimal("250.5000"), None, None),
    ("ALL", 2024, Decimal("1250.5000"), 0.64, "a, b"),
]


def _snapshot(path, rows=ROWS, extra_table=False, ratio_type="DOUBLE"):
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.kpis (municipality_id VARCHAR, year INTEGER, "
        f"spend DECIMAL(38, 4), coverage {ratio_type}, members VARCHAR)"
    )
    con.executemany("INSERT INTO marts.kpis VALUES (?, ?, ?, ?, ?)", rows)
    # published_at differs between any two snapshots: never compared
    con.execute("CREATE TABLE marts.snapshot_info AS SELECT now() AS published_at")
    if extra_table:
        con.execute("CREATE TABLE marts.extra AS SELECT 1 AS x")
    con.close()
    return path


def _changed(row_index, column, value):
    rows = [list(row) for row in ROWS]
    rows[row_index][column] = value
    return [tuple(row) for row in rows]


def test_identical_snapshots_are_equal(tmp_path):
    result = compare_snapshots(_snapshot(tmp_path / "l.duckdb"), _snapshot(tmp_path / "r.duckdb"))
    assert result.equal, result.differences
    assert (result.tables, result.cells) == (1, 15)


def test_rows_in_another_order_and_within_tolerance_are_equal(tmp_path):
    rows = [
        ("ALL", 2024, Decimal("1250.5049"), 0.64 + 1e-12, "a, b"),
        ROWS[1],
        ROWS[0],
    ]
    result = compare_snapshots(
        _snapshot(tmp_path / "l.duckdb"), _snapshot(tmp_path / "r.duckdb", rows)
    )
    assert result.equal, result.differences


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (
            _changed(0, 2, Decimal("1000.0200")),
            "kpis.spend: Decimal('1000.0000') against Decimal('1000.0200')",
        ),
        (_changed(0, 3, 0.8 + 1e-7), "kpis.coverage: 0.8 against 0.8000001"),
        (_changed(1, 3, 0.0), "kpis.coverage: None against 0.0"),  # NULL is not 0
        (
            _changed(0, 4, "b, a"),
            "kpis: 1 rows against 0 with municipality_id='5035'",
        ),  # list order
        (
            _changed(1, 4, "None"),
            "kpis: 1 rows against 0 with municipality_id='5032'",
        ),  # 'None' is not NULL
        (ROWS[:2], "kpis: 3 rows against 2"),
    ],
)
def test_each_kind_of_difference_is_found(tmp_path, rows, expected):
    result = compare_snapshots(
        _snapshot(tmp_path / "l.duckdb"), _snapshot(tmp_path / "r.duckdb", rows)
    )
    assert not result.equal
    assert any(d.startswith(expected) for d in result.differences), result.differences


def test_a_table_in_one_snapshot_only_is_a_difference(tmp_path):
    result = compare_snapshots(
        _snapshot(tmp_path / "l.duckdb"), _snapshot(tmp_path / "r.duckdb", extra_table=True)
    )
    assert [d for d in result.differences if d.startswith("extra: only in")]


def test_a_decimal_against_a_double_is_compared_as_an_amount(tmp_path):
    left = _snapshot(tmp_path / "l.duckdb", ratio_type="DECIMAL(18, 8)")
    right = _snapshot(tmp_path / "r.duckdb", _changed(0, 3, 0.8 + 1e-7))
    assert compare_snapshots(left, right).equal


def test_main_exits_1_and_prints_the_first_differences(tmp_path, capsys):
    left = _snapshot(tmp_path / "l.duckdb")
    right = _snapshot(tmp_path / "r.duckdb", _changed(2, 2, Decimal("1250.6000")))
    assert main([str(left), str(left)]) == 0
    assert main([str(left), str(right)]) == 1
    out = capsys.readouterr().out
    assert "1 differences" in out
    assert "kpis.spend: Decimal('1250.5000') against Decimal('1250.6000')" in out
