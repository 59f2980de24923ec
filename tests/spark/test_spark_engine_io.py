"""The DuckDB halves of the Spark path (pipelines/spark_engine.py), without Spark: the raw
tables written as Parquet for Spark, and Parquet folders published as the snapshot."""

from datetime import datetime

import duckdb
import pytest

from pipelines.publish import PUBLISHED_SCHEMA
from pipelines.spark_engine import (
    SparkBuildError,
    export_raw_tables,
    publish_from_parquet,
    raw_source_tables,
)
from pipelines.warehouse import RAW_TABLES, create_raw_schema

PROVENANCE = {
    "warehouse": "spark: w",
    "run_id": None,
    "config_sha256": "abc",
    "platform_version": "1",
}


def test_every_dbt_source_table_is_a_raw_table_of_the_warehouse():
    tables = raw_source_tables()
    assert "spend_lines" in tables
    assert set(tables) <= set(RAW_TABLES)


def test_raw_tables_are_written_as_parquet_folders(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    create_raw_schema(con)
    con.execute("insert into raw.municipalities values ('5035', 'Stjørdal', 24050, true)")
    con.close()
    folders = export_raw_tables(warehouse, tmp_path / "raw", ["municipalities", "agreements"])
    assert sorted(folders) == ["agreements", "municipalities"]
    rows = duckdb.sql(
        f"select * from read_parquet('{folders['municipalities']}/*.parquet')"
    ).fetchall()
    assert rows == [("5035", "Stjørdal", 24050, True)]
    assert duckdb.sql(
        f"select count(*) from read_parquet('{folders['agreements']}/*.parquet')"
    ).fetchone() == (0,)


def test_a_missing_raw_table_names_the_sources_file(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).execute("create schema raw").close()
    with pytest.raises(
        SparkBuildError, match=r"raw tables spend_lines .*_raw__sources.yml.*samkjop run"
    ):
        export_raw_tables(warehouse, tmp_path / "raw", ["spend_lines"])


def test_parquet_folders_are_published_as_the_snapshot(tmp_path):
    folder = tmp_path / "marts" / "kpis"
    folder.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'Europe/Oslo'")  # Spark writes instants: read back in UTC
    con.execute(
        f"copy (select '5035' as municipality_id, 12.5::decimal(38, 4) as spend, "
        f"timestamptz '2024-03-31 01:30:00+00' as loaded_at) to '{folder}/part-0.parquet'"
    )
    con.close()
    snapshot = tmp_path / "out" / "s.duckdb"
    counts = publish_from_parquet({"kpis": str(folder)}, snapshot, PROVENANCE)
    assert counts == {"kpis": 1}
    assert not list(snapshot.parent.glob(".*building*"))
    con = duckdb.connect(str(snapshot), read_only=True)
    row = con.execute(f"select * from {PUBLISHED_SCHEMA}.kpis").fetchone()
    assert row[0] == "5035" and str(row[1]) == "12.5000"
    assert row[2] == datetime(2024, 3, 31, 1, 30)  # TIMESTAMP, as the DuckDB build has it
    info = con.execute(
        f"select warehouse, config_sha256, line_model_inputs from {PUBLISHED_SCHEMA}.snapshot_info"
    ).fetchone()
    assert info == ("spark: w", "abc", None)
    con.close()


def test_nothing_built_is_an_error(tmp_path):
    with pytest.raises(SparkBuildError, match="no tables in schema 'marts'"):
        publish_from_parquet({}, tmp_path / "s.duckdb", PROVENANCE)


def test_a_missing_spark_extra_or_java_says_how_to_install_it(monkeypatch):
    import importlib.util
    import shutil

    from pipelines.spark_engine import check_requirements

    # whatever this venv has: the extra missing, then the extra there and Java missing
    real_find_spec = importlib.util.find_spec
    spark_modules = ("pyspark", "dbt.adapters.spark")
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name in spark_modules else real_find_spec(name),
    )
    with pytest.raises(
        SparkBuildError,
        match=r"pyspark and dbt\.adapters\.spark not installed: `make install-spark`",
    ):
        check_requirements()
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: object() if name in spark_modules else real_find_spec(name),
    )
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkBuildError, match=r"java not found: .*default-jre-headless"):
        check_requirements()
