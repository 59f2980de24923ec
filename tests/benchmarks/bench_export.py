"""Benchmark of the auditors' exports: wall time and peak memory of `spend_lines` written as
XLSX (and Parquet, for comparison) from snapshots of 100 000 and 1 000 000 lines.

    python -m tests.benchmarks.bench_export --source SNAPSHOT [--rows 100000 1000000]

`make bench-export` makes a demo cooperation first (20 000 lines, not counted) and uses its
snapshot as SOURCE. The benchmark snapshot is the source's snapshot with fct_spend_lines
repeated (each copy with its own spend_line_key) to the number of rows asked; every other
table as published. Each export runs in a process of its own (tests/benchmarks/measure.py:
wall time, peak RSS of the process); a line `BENCHMARK {json}` per export.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from tests.benchmarks.measure import measure


def make_snapshot(source: Path, target: Path, rows: int) -> None:
    """`target`: the `source` snapshot with `rows` spend lines (its lines repeated)."""
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"ATTACH '{source}' AS source (READ_ONLY)")
        con.execute("CREATE SCHEMA marts")
        tables = [
            name
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_catalog = 'source' AND table_schema = 'marts'"
            ).fetchall()
        ]
        for table in tables:
            if table != "fct_spend_lines":
                con.execute(f"CREATE TABLE marts.{table} AS SELECT * FROM source.marts.{table}")
        base = con.execute("SELECT count(*) FROM source.marts.fct_spend_lines").fetchone()[0]
        copies = -(-rows // base)
        con.execute(
            f"""
            CREATE TABLE marts.fct_spend_lines AS
            SELECT * REPLACE (spend_line_key + copy * (1::BIGINT << 48) AS spend_line_key)
            FROM source.marts.fct_spend_lines, range({copies}) AS copies(copy)
            ORDER BY copy, spend_line_key
            LIMIT {rows}
            """
        )
    finally:
        con.close()


def _write(snapshot: str, fmt: str, out: str) -> int:
    """The measured child: one export of spend_lines."""
    from pipelines.export import export_table

    started = time.monotonic()
    path, rows = export_table(Path(snapshot), "spend_lines", fmt, Path(out))
    print(
        f"  {rows:,} rows -> {path} ({path.stat().st_size / 2**20:.1f} MiB) in "
        f"{time.monotonic() - started:.1f} s",
        flush=True,
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="a published snapshot")
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["xlsx", "parquet"])
    parser.add_argument("--write", nargs=3, metavar=("SNAPSHOT", "FORMAT", "OUT"))
    args = parser.parse_args()
    if args.write:
        return _write(*args.write)
    if args.source is None or not args.source.is_file():
        parser.error("--source: give a published snapshot (make bench-export makes one)")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="samkjop-bench-export-") as folder:
        for rows in args.rows:
            snapshot = Path(folder) / f"snapshot-{rows}.duckdb"
            make_snapshot(args.source, snapshot, rows)
            for fmt in args.formats:
                command = [
                    sys.executable,
                    "-m",
                    "tests.benchmarks.bench_export",
                    "--write",
                    str(snapshot),
                    fmt,
                    str(Path(folder) / f"out-{rows}"),
                ]
                result = measure(command)
                result.update(table="spend_lines", format=fmt, rows=rows)
                print("BENCHMARK " + json.dumps(result, ensure_ascii=False), flush=True)
                failed |= result["exit_code"] != 0
            snapshot.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
