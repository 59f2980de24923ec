"""Publish a finished, read-only snapshot of the marts for dashboards and exports.

The snapshot is built in a temporary file beside the target and moved into place
with one atomic rename: a reader sees the old snapshot or the new one, never a
half-built one, and never holds the pipeline's warehouse open. A build left behind by a
process that died (`.<snapshot>.building-<pid>`) is removed by the next run.

Cheaply: `fct_spend_lines` (millions of wide rows) is built delivery by delivery
(pipelines/incremental.py). When the published snapshot's lines were built from the same
rules, reference data, settings and code as the warehouse's, they differ from the new ones
only by whole deliveries: the new snapshot starts as a copy of the old file, the lines of
deliveries that left are deleted and those of new deliveries inserted, and the other marts
(small) are written anew. Otherwise every table is copied.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import duckdb

from pipelines import incremental
from pipelines.pause_points import pause_point
from pipelines.processes import is_running
from pipelines.warehouse import connect

PUBLISHED_SCHEMA = "marts"
LINE_TABLE = "fct_spend_lines"  # incremental by delivery (pipelines/incremental.py)


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def building_file(snapshot: Path, pid: int) -> Path:
    return snapshot.with_name(f".{snapshot.name}.building-{pid}")


def remove_stale_builds(snapshot: Path) -> list[Path]:
    """Remove the half-built snapshots (and their DuckDB journals) of processes that are
    gone; return what was removed."""
    pattern = re.compile(re.escape(f".{snapshot.name}.building-") + r"(\d+)")
    removed = []
    for path in snapshot.parent.glob(f".{snapshot.name}.building-*"):
        match = pattern.match(path.name)
        if match and not is_running(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def publish_snapshot(
    warehouse: Path, snapshot: Path, provenance: dict[str, str | None] | None = None
) -> dict[str, int]:
    """Copy every table of the `marts` schema into a new snapshot file; return row counts.
    `provenance` (the run id, the configuration file's SHA-256, the platform version) goes
    into `marts.snapshot_info` beside the time of publishing, for the exports' About sheet."""
    provenance = provenance or {}
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(snapshot)
    building = building_file(snapshot, os.getpid())
    building.unlink(missing_ok=True)
    counts: dict[str, int] = {}
    line_inputs = incremental.recorded(warehouse)
    reused = _reusable_lines(snapshot, line_inputs)
    if reused:
        shutil.copyfile(snapshot, building)
    with connect(warehouse) as con:
        tables = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                "AND table_catalog = current_database() ORDER BY table_name",
                [PUBLISHED_SCHEMA],
            ).fetchall()
        ]
        if not tables:
            raise RuntimeError(f"{warehouse}: no tables in schema {PUBLISHED_SCHEMA!r} to publish")
        con.execute(f"ATTACH {_quoted(building)} AS snapshot")
        try:
            _clear(con, keep=LINE_TABLE if reused else None)
            for table in tables:
                if reused and table == LINE_TABLE:
                    counts[table] = _apply_delivery_changes(con)
                else:
                    counts[table] = _copy(con, table)
                pause_point("publish")
            con.execute(
                f"CREATE TABLE snapshot.{PUBLISHED_SCHEMA}.snapshot_info AS "
                "SELECT CAST(? AS TIMESTAMP) AS published_at, CAST(? AS VARCHAR) AS warehouse, "
                "CAST(? AS VARCHAR) AS run_id, CAST(? AS VARCHAR) AS config_sha256, "
                "CAST(? AS VARCHAR) AS platform_version, "
                "CAST(? AS VARCHAR) AS line_model_inputs",
                [
                    datetime.now(),
                    str(warehouse),
                    provenance.get("run_id"),
                    provenance.get("config_sha256"),
                    provenance.get("platform_version"),
                    line_inputs,
                ],
            )
        finally:
            con.execute("DETACH snapshot")
    os.replace(building, snapshot)
    return counts


def _copy(con: duckdb.DuckDBPyConnection, table: str) -> int:
    con.execute(
        f"CREATE TABLE snapshot.{PUBLISHED_SCHEMA}.{table} AS "
        f"SELECT * FROM {PUBLISHED_SCHEMA}.{table}"
    )
    return con.execute(f"SELECT count(*) FROM snapshot.{PUBLISHED_SCHEMA}.{table}").fetchone()[0]


def _clear(con: duckdb.DuckDBPyConnection, keep: str | None) -> None:
    """An empty `marts` schema in the snapshot being built; `keep`: the one table kept from a
    copy of the previous snapshot."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS snapshot.{PUBLISHED_SCHEMA}")
    present = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = 'snapshot' AND table_schema = ?",
        [PUBLISHED_SCHEMA],
    ).fetchall()
    for (table,) in present:
        if table != keep:
            con.execute(f"DROP TABLE snapshot.{PUBLISHED_SCHEMA}.{table}")


def _reusable_lines(snapshot: Path, line_inputs: str | None) -> bool:
    """Whether the published snapshot's spend lines were built from the same rules, reference
    data, settings and code as the warehouse's (pipelines/incremental.py): then they differ
    only by whole deliveries, and the new snapshot starts from a copy of the old one."""
    if line_inputs is None or not snapshot.is_file():
        return False
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error:
        return False
    try:
        published = con.execute(
            f"SELECT line_model_inputs FROM {PUBLISHED_SCHEMA}.snapshot_info"
        ).fetchone()
    except duckdb.Error:  # a snapshot of an earlier version, without the column
        return False
    finally:
        con.close()
    return published is not None and published[0] == line_inputs


def _apply_delivery_changes(con: duckdb.DuckDBPyConnection) -> int:
    """The copied spend lines made equal to the warehouse's, delivery by delivery: the lines
    of deliveries no longer built go, those of deliveries not yet published come. Checked
    by the row count; on a difference the table is copied in full."""
    published = f"snapshot.{PUBLISHED_SCHEMA}.{LINE_TABLE}"
    built = f"{PUBLISHED_SCHEMA}.{LINE_TABLE}"
    con.execute(
        f"DELETE FROM {published} AS old WHERE NOT EXISTS (SELECT 1 FROM "
        f"(SELECT DISTINCT delivery_id FROM {built}) AS b WHERE b.delivery_id = old.delivery_id)"
    )
    con.execute(
        f"INSERT INTO {published} SELECT * FROM {built} AS new WHERE NOT EXISTS (SELECT 1 FROM "
        f"(SELECT DISTINCT delivery_id FROM {published}) AS p "
        "WHERE p.delivery_id = new.delivery_id)"
    )
    rows = con.execute(f"SELECT count(*) FROM {published}").fetchone()[0]
    if rows == con.execute(f"SELECT count(*) FROM {built}").fetchone()[0]:
        return rows
    con.execute(f"DROP TABLE {published}")
    return _copy(con, LINE_TABLE)
