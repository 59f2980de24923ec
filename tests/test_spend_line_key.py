"""raw.spend_lines.spend_line_key, the integer line id dbt joins and tests on: the loader
gives each delivery a new number and each line number * 2^32 + source_row; unique across
the warehouse, and never changed for a loaded line by a re-delivery, a retry, a repeated
or a failed run. A warehouse of an earlier version gets the column and its values."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.profiles import load_profile
from pipelines.settings import DeclaredPeriod
from pipelines.spend_loader import load_spend_file
from pipelines.warehouse import (
    DELIVERY_NUMBERS,
    ROWS_PER_DELIVERY,
    create_raw_schema,
    next_spend_line_key_base,
)
from tests.conftest import CANONICAL_HEADER, write

MEMBER = "5037"


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(connection)
    yield connection
    connection.close()


def _file(tmp_path: Path, name: str, amounts: list[str]) -> Path:
    rows = "".join(
        f"{MEMBER},F{i},1,2024-03-05,923609016,Data AS,11500,115,{amount},NOK,,,,,\n"
        for i, amount in enumerate(amounts, start=1)
    )
    return write(tmp_path / name, CANONICAL_HEADER + "\n" + rows)


def _load(con, path: Path, declared: DeclaredPeriod | None = None):
    profile = load_profile("canonical", path.parent)
    return load_spend_file(con, path, MEMBER, profile, "NO", "NOK", declared=declared)


def _keys(con) -> dict[tuple[str, int], int]:
    """(source file, source_row) -> spend_line_key of every raw line."""
    return {
        (Path(source_file).name, source_row): key
        for source_file, source_row, key in con.execute(
            "SELECT source_file, source_row, spend_line_key FROM raw.spend_lines"
        ).fetchall()
    }


def _number(key: int, source_row: int) -> int:
    base, remainder = divmod(key - source_row, ROWS_PER_DELIVERY)
    assert remainder == 0
    return base


def test_each_delivery_gets_a_number_and_each_line_number_times_2_32_plus_its_row(con, tmp_path):
    _load(con, _file(tmp_path, "jan.csv", ["10", "20", "30"]))
    _load(con, _file(tmp_path, "feb.csv", ["40", "50"]))
    keys = _keys(con)
    assert len(keys) == 5 and len(set(keys.values())) == 5
    numbers = {name: _number(key, row) for (name, row), key in keys.items()}
    assert numbers["jan.csv"] != numbers["feb.csv"]
    assert {k: numbers[k[0]] * ROWS_PER_DELIVERY + k[1] for k in keys} == keys


def test_repeated_runs_retries_and_redeliveries_never_change_a_loaded_key(con, tmp_path):
    march = DeclaredPeriod("spend", "2024-03")
    first = _file(tmp_path, "2024-03.csv", ["10", "20"])
    assert _load(con, first, march).status == "loaded"
    loaded = _keys(con)
    assert _load(con, first, march).status == "skipped_duplicate"  # a repeated run
    # a file that fails (every row rejected) is rolled back or recorded: no line, no key
    broken = _file(tmp_path, "broken.csv", ["ten"])
    assert _load(con, broken).status == "rejected"
    assert _load(con, broken).status == "rejected"  # retried on the next run
    # a re-delivery of March replaces the first file in the figures, not in raw
    again = _file(tmp_path, "2024-03-v2.csv", ["11", "21", "31"])
    assert _load(con, again, march).status == "loaded"
    assert con.execute("SELECT count(*) FROM raw.delivery_replacements").fetchone()[0] == 1
    keys = _keys(con)
    assert {k: keys[k] for k in loaded} == loaded  # the first file's lines keep theirs
    assert len(set(keys.values())) == 5
    numbers = {_number(key, row) for (_, row), key in keys.items()}
    assert len(numbers) == 2  # the re-delivery drew a new number


def test_a_number_a_rolled_back_load_drew_is_not_given_again(con, tmp_path):
    con.execute("BEGIN TRANSACTION")
    drawn = next_spend_line_key_base(con)
    con.execute("ROLLBACK")
    _load(con, _file(tmp_path, "jan.csv", ["10"]))
    (key,) = _keys(con).values()
    assert key - 1 > drawn


def test_an_earlier_warehouse_gets_the_column_its_lines_numbered_and_the_sequence(tmp_path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE SCHEMA raw")
    old.execute(
        "CREATE TABLE raw.spend_lines (delivery_id VARCHAR, source_row BIGINT, loaded_at TIMESTAMP)"
    )
    old.executemany(
        "INSERT INTO raw.spend_lines VALUES (?, ?, ?)",
        [
            ("second", 2, datetime(2024, 2, 1)),
            ("first", 2, datetime(2024, 1, 1)),
            ("first", 3, datetime(2024, 1, 1)),
            ("second", 3, datetime(2024, 2, 1)),
        ],
    )
    create_raw_schema(old)
    rows = old.execute(
        "SELECT delivery_id, source_row, spend_line_key FROM raw.spend_lines "
        "ORDER BY delivery_id, source_row"
    ).fetchall()
    # numbered in the order the deliveries were loaded
    assert rows == [
        ("first", 2, 1 * ROWS_PER_DELIVERY + 2),
        ("first", 3, 1 * ROWS_PER_DELIVERY + 3),
        ("second", 2, 2 * ROWS_PER_DELIVERY + 2),
        ("second", 3, 2 * ROWS_PER_DELIVERY + 3),
    ]
    create_raw_schema(old)  # nothing left to do: nothing changes
    assert (
        old.execute(
            "SELECT delivery_id, source_row, spend_line_key FROM raw.spend_lines "
            "ORDER BY delivery_id, source_row"
        ).fetchall()
        == rows
    )
    assert next_spend_line_key_base(old) == 3 * ROWS_PER_DELIVERY
    old.close()


def test_a_sequence_behind_the_lines_never_gives_a_number_in_use(con, tmp_path):
    _load(con, _file(tmp_path, "jan.csv", ["10"]))
    (key,) = _keys(con).values()
    con.execute(f"DROP SEQUENCE {DELIVERY_NUMBERS}")
    con.execute(f"CREATE SEQUENCE {DELIVERY_NUMBERS} START WITH 1")
    assert next_spend_line_key_base(con) > key
