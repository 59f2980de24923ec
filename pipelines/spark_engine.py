"""The same dbt project on Apache Spark (README "Moving to a Spark cluster").

`samkjop spark-build` builds the models on Spark from the raw tables that the loaders
wrote into the DuckDB warehouse (`samkjop run` loads them) and publishes the marts as the
same read-only DuckDB snapshot (schema `marts`) that the dashboards and exports read:

1. every raw table the dbt sources read (dbt_project/models/staging/raw/_raw__sources.yml)
   is written as Parquet by DuckDB, one folder per table;
2. the folders are registered in the Spark catalog as the tables of schema `raw`
   (dbt macro register_parquet_tables);
3. `dbt build --target spark` (dbt_project/profiles.yml): Spark in this process, with the
   cooperation's vars, as the DuckDB build has them;
4. each table of Spark's `marts` schema is read from its Parquet folder into a new DuckDB
   snapshot file, moved into place with one atomic rename (as pipelines/publish.py does).

Spark's catalog and table files live in the state folder's `spark/` (SAMKJOP_SPARK_DIR).
Needs the `spark` extra (`make install-spark`) and Java 17.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import yaml

from pipelines.publish import PUBLISHED_SCHEMA, building_file, remove_stale_builds
from pipelines.settings import DBT_PROJECT_DIR, Cooperation
from pipelines.warehouse import connect

SPARK_DIR_ENV_VAR = "SAMKJOP_SPARK_DIR"  # read by dbt_project/profiles.yml (target spark)
SPARK_TARGET = "spark"
RAW_SOURCES = DBT_PROJECT_DIR / "models" / "staging" / "raw" / "_raw__sources.yml"
RAW_SCHEMA = "raw"


class SparkBuildError(RuntimeError):
    """The Spark build could not finish; nothing was published."""


def raw_source_tables(sources_file: Path = RAW_SOURCES) -> list[str]:
    """The tables of the dbt source `raw`, as _raw__sources.yml lists them."""
    document = yaml.safe_load(sources_file.read_text(encoding="utf-8"))
    for source in document.get("sources", []):
        if source.get("name") == RAW_SCHEMA:
            return [table["name"] for table in source.get("tables", [])]
    raise SparkBuildError(f"{sources_file}: no source named {RAW_SCHEMA!r}")


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def export_raw_tables(warehouse: Path, out: Path, tables: list[str]) -> dict[str, str]:
    """Write each raw table of the warehouse as Parquet into out/<table>/; return the
    folders by table."""
    folders: dict[str, str] = {}
    with connect(warehouse, read_only=True) as con:
        present = {
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [RAW_SCHEMA],
            ).fetchall()
        }
        missing = [table for table in tables if table not in present]
        if missing:
            raise SparkBuildError(
                f"{warehouse}: the raw tables {', '.join(missing)} (read by the dbt sources in "
                f"{RAW_SOURCES.relative_to(DBT_PROJECT_DIR.parent)}) are missing: run "
                "`samkjop run` first, which loads them"
            )
        for table in tables:
            folder = out / table
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            con.execute(
                f"COPY (SELECT * FROM {RAW_SCHEMA}.{table}) TO "
                f"{_quoted(folder / 'part-0.parquet')} (FORMAT parquet)"
            )
            folders[table] = str(folder)
    return folders


def _dbt(args: list[str], target_path: Path) -> None:
    """One dbt command on the spark target, in this process (so in this Spark session)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target",
            SPARK_TARGET,
            "--target-path",
            str(target_path),
        ]
    )
    if not result.success:
        failed = []
        for node in getattr(result.result, "results", None) or []:
            if str(getattr(node, "status", "")).lower() in ("error", "fail"):
                failed.append(f"{node.node.name}: {(node.message or '').splitlines()[0][:200]}")
        detail = "; ".join(failed[:5]) or str(result.exception or "see the dbt log above")
        raise SparkBuildError(f"dbt {args[0]} on Spark failed: {detail}")


def _table_locations(schema: str) -> dict[str, str]:
    """The tables of a schema of the Spark catalog and the folders of their files."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started
    locations = {}
    for table in spark.catalog.listTables(schema):
        if table.tableType == "VIEW":
            continue
        rows = spark.sql(f"DESCRIBE TABLE EXTENDED {schema}.{table.name}").collect()
        location = next(row.data_type for row in rows if row.col_name == "Location")
        locations[table.name] = location.removeprefix("file:")
    return locations


def publish_from_parquet(
    locations: dict[str, str], snapshot: Path, provenance: dict[str, str | None]
) -> dict[str, int]:
    """A new snapshot file with one table of schema `marts` per Parquet folder, moved into
    place atomically; return the row counts. Spark writes its timestamps as instants:
    they are read back in UTC, the session time zone, as DuckDB's TIMESTAMP.
    `provenance` (warehouse, run_id, config_sha256, platform_version) goes into
    `marts.snapshot_info` with the columns pipelines/publish.py gives it; no
    line_model_inputs, so the next DuckDB publish copies every table."""
    if not locations:
        raise SparkBuildError(f"Spark built no tables in schema {PUBLISHED_SCHEMA!r}")
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(snapshot)
    building = building_file(snapshot, os.getpid())
    building.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    con = duckdb.connect(str(building))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
        for table, folder in sorted(locations.items()):
            files = f"read_parquet({_quoted(Path(folder) / '*.parquet')})"
            columns = con.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()
            select = ", ".join(
                f'CAST("{name}" AS TIMESTAMP) AS "{name}"'
                if kind == "TIMESTAMP WITH TIME ZONE"
                else f'"{name}"'
                for name, kind, *_ in columns
            )
            con.execute(f"CREATE TABLE {PUBLISHED_SCHEMA}.{table} AS SELECT {select} FROM {files}")
            counts[table] = con.execute(
                f"SELECT count(*) FROM {PUBLISHED_SCHEMA}.{table}"
            ).fetchone()[0]
        con.execute(
            f"CREATE TABLE {PUBLISHED_SCHEMA}.snapshot_info AS "
            "SELECT CAST(? AS TIMESTAMP) AS published_at, CAST(? AS VARCHAR) AS warehouse, "
            "CAST(? AS VARCHAR) AS run_id, CAST(? AS VARCHAR) AS config_sha256, "
            "CAST(? AS VARCHAR) AS platform_version, "
            "CAST(NULL AS VARCHAR) AS line_model_inputs",
            [
                datetime.now(),
                provenance.get("warehouse"),
                provenance.get("run_id"),
                provenance.get("config_sha256"),
                provenance.get("platform_version"),
            ],
        )
    finally:
        con.close()
    os.replace(building, snapshot)
    return counts


def check_requirements() -> None:
    """The spark extra and Java are there, or a SparkBuildError says how to install them."""
    import importlib.util

    missing = [m for m in ("pyspark", "dbt.adapters.spark") if importlib.util.find_spec(m) is None]
    if missing:
        raise SparkBuildError(
            f"{' and '.join(missing)} not installed: `make install-spark` installs the spark "
            "extra (dbt-spark, pyspark; constraints-spark.txt)"
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkBuildError(
            "java not found: Spark needs Java 17 (`apt-get install -y default-jre-headless`)"
        )


def build_on_spark(
    cooperation: Cooperation, snapshot: Path | None = None, unit_tests: bool = False
) -> dict[str, int]:
    """Build the cooperation's raw data on Spark and publish the marts (to the
    cooperation's snapshot unless `snapshot` names another file); return the row counts.
    `unit_tests`: run the dbt unit tests too (they pin their own vars)."""
    from pipelines.defs.transform.dbt import dbt_vars
    from pipelines.export import file_sha256, platform_version

    check_requirements()
    spark_dir = cooperation.state_dir / "spark"
    spark_dir.mkdir(parents=True, exist_ok=True)
    os.environ[SPARK_DIR_ENV_VAR] = str(spark_dir)
    folders = export_raw_tables(cooperation.warehouse, spark_dir / "raw", raw_source_tables())
    target = spark_dir / "dbt-target"
    _dbt(
        [
            "run-operation",
            "register_parquet_tables",
            "--args",
            json.dumps({"schema": RAW_SCHEMA, "tables": folders}),
        ],
        target,
    )
    build = ["build", "--vars", json.dumps(dbt_vars(cooperation), sort_keys=True)]
    if not unit_tests:
        build += ["--exclude-resource-type", "unit_test"]
    _dbt(build, target)
    return publish_from_parquet(
        _table_locations(PUBLISHED_SCHEMA),
        snapshot or cooperation.snapshot,
        {
            "warehouse": f"spark: {cooperation.warehouse}",
            "run_id": None,
            "config_sha256": file_sha256(cooperation.config_path),
            "platform_version": platform_version(),
        },
    )
