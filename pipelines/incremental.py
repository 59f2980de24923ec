"""When the line-level models may be built incrementally, and when they must be rebuilt.

`fct_spend_lines` (dbt_project/models/marts/spend/fct_spend_lines.sql) is incremental by
delivery on DuckDB: a build adds the lines of deliveries it does not hold yet and removes
those of deliveries that are no longer loaded (replaced by a correction, or gone). The
rule-key models it joins (`int_spend_lines_classified`, `int_spend_lines_matched`) add the
keys of the lines loaded since their last build, and `int_invoice_pairs_proposed` recomputes
the members with such lines. That equals a full rebuild only while everything else a line's
row depends on is unchanged: the rules and their reference data (agreements, supplier
register, classification rules, KOSTRA arts, exchange rates, excluded suppliers, the
cooperation's settings) and the code of the platform and of the dbt project.

So the build records, in the warehouse itself, the fingerprint of those inputs with which
`fct_spend_lines` was last built in full or in part (`build_state.line_model_inputs`). The
next build compares: the same fingerprint → incremental; another, or none → `dbt build
--full-refresh`. The fingerprint is taken from what the build reads (the raw reference
tables' content, hashed by DuckDB), not from files, so that a file that changed after it was
loaded cannot hide a change. `samkjop run --full` forgets the record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from pipelines.run_inputs import platform_stat_lines
from pipelines.warehouse import DELIVERY_TABLES, FILE_FINGERPRINTS, connect

LINE_MODEL = "model.samkjop.fct_spend_lines"
STATE_TABLE = "build_state.line_model_inputs"
# raw tables that deliveries write (the incremental model follows them delivery by
# delivery) and the loader's own bookkeeping; every other raw table is reference data and
# part of the fingerprint
# (pipelines.warehouse.DELIVERY_TABLES: spend_lines, rejected_rows, ..., delivered_text)
NOT_REFERENCE_TABLES = frozenset({*DELIVERY_TABLES, FILE_FINGERPRINTS.removeprefix("raw.")})


def _reference_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'raw' AND table_catalog = current_database() "
        "ORDER BY table_name"
    ).fetchall()
    return [name for (name,) in names if name not in NOT_REFERENCE_TABLES]


def _table_digest(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Row count and an order-independent sum of row hashes (duplicates do not cancel)."""
    rows, total = con.execute(
        f'SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM raw."{table}" AS t'
    ).fetchone()
    columns = con.execute(
        "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY ordinal_position) "
        "FROM information_schema.columns WHERE table_schema = 'raw' AND table_name = ? "
        "AND table_catalog = current_database()",
        [table],
    ).fetchone()[0]
    return f"{table}({columns}):{rows}:{total}"


def line_model_inputs(warehouse: Path, dbt_vars: dict, target_type: str = "duckdb") -> str:
    """The fingerprint of everything but the deliveries that fct_spend_lines' rows depend on."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"vars": dbt_vars, "target": target_type}, sort_keys=True).encode())
    for line in platform_stat_lines():
        digest.update(line.encode("utf-8", "surrogateescape") + b"\n")
    if warehouse.exists():
        with connect(warehouse, read_only=True) as con:
            for table in _reference_tables(con):
                digest.update(_table_digest(con, table).encode() + b"\n")
    return digest.hexdigest()


def _ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS build_state")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
        "(fingerprint VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL)"
    )


def recorded(warehouse: Path) -> str | None:
    """The fingerprint fct_spend_lines was last built with; None when unknown."""
    if not warehouse.exists():
        return None
    with connect(warehouse, read_only=True) as con:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema || '.' || table_name = ?",
            [STATE_TABLE],
        ).fetchone()[0]
        row = con.execute(f"SELECT fingerprint FROM {STATE_TABLE}").fetchone() if exists else None
    return row[0] if row else None


def record(warehouse: Path, fingerprint: str | None) -> None:
    """Remember the fingerprint (None: forget it, so that the next build is a full one)."""
    with connect(warehouse) as con:
        _ensure_table(con)
        con.execute(f"DELETE FROM {STATE_TABLE}")
        if fingerprint is not None:
            con.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, now())", [fingerprint])


def forget(warehouse: Path) -> None:
    if warehouse.exists():
        record(warehouse, None)


def line_model_outcome(run_results: Path) -> str | None:
    """fct_spend_lines' status in a finished dbt invocation ('success', 'error', ...); None
    when it was not part of it."""
    try:
        results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    except (OSError, ValueError, KeyError):
        return None
    return next((r["status"] for r in results if r["unique_id"] == LINE_MODEL), None)
