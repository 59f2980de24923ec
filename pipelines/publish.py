"""Publish a finished, read-only snapshot of the marts for dashboards and exports.

The snapshot is built in a temporary file beside the target and moved into place
with one atomic rename: a reader sees the old snapshot or the new one, never a
half-built one, and never holds the pipeline's warehouse open. A build left behind by a
process that died (`.<snapshot>.building-<pid>`) is removed by the next run.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from pipelines.pause_points import pause_point
from pipelines.processes import is_running
from pipelines.warehouse import connect

PUBLISHED_SCHEMA = "marts"


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


def publish_snapshot(warehouse: Path, snapshot: Path) -> dict[str, int]:
    """Copy every table of the `marts` schema into a new snapshot file; return row counts."""
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_builds(snapshot)
    building = building_file(snapshot, os.getpid())
    building.unlink(missing_ok=True)
    counts: dict[str, int] = {}
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
            con.execute(f"CREATE SCHEMA snapshot.{PUBLISHED_SCHEMA}")
            for table in tables:
                con.execute(
                    f"CREATE TABLE snapshot.{PUBLISHED_SCHEMA}.{table} AS "
                    f"SELECT * FROM {PUBLISHED_SCHEMA}.{table}"
                )
                counts[table] = con.execute(
                    f"SELECT count(*) FROM snapshot.{PUBLISHED_SCHEMA}.{table}"
                ).fetchone()[0]
                pause_point("publish")
            con.execute(
                f"CREATE TABLE snapshot.{PUBLISHED_SCHEMA}.snapshot_info AS "
                "SELECT CAST(? AS TIMESTAMP) AS published_at, CAST(? AS VARCHAR) AS warehouse",
                [datetime.now(), str(warehouse)],
            )
        finally:
            con.execute("DETACH snapshot")
    os.replace(building, snapshot)
    return counts
