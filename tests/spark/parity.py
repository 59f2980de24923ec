"""Two published snapshots compared mart by mart, cell by cell (`make spark-parity`).

    python -m tests.spark.parity --config COOPERATION_YML --spark-snapshot FILE
    python -m tests.spark.parity LEFT.duckdb RIGHT.duckdb

Every table of schema `marts` (but snapshot_info, which says when and from what it was
published) must be in both, with the same columns and the same rows. Rows are matched on
their exact columns (everything but DECIMAL and floating-point ones); rows with the same
exact values are paired in the order of their numbers. Cells are compared NULL-safe:
DECIMAL amounts to 0.01, floating-point ratios to 1e-9 (relative to the larger value
when it is above 1), everything else exactly. Exit code 1 and the first differences when
they differ.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb

SCHEMA = "marts"
SKIPPED = {"snapshot_info"}
AMOUNT_TOLERANCE = Decimal("0.01")
RATIO_TOLERANCE = 1e-9
FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


@dataclass
class Comparison:
    tables: int = 0
    cells: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.differences


def _kind(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return "amount"
    if duckdb_type in FLOAT_TYPES:
        return "ratio"
    return "exact"


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = ? ORDER BY table_name, ordinal_position",
        [catalog, SCHEMA],
    ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for table, column, data_type in rows:
        if table not in SKIPPED:
            tables[table].append((column, data_type))
    return dict(tables)


def _close(kind: str, left, right) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if kind == "amount":
        return abs(Decimal(str(left)) - Decimal(str(right))) <= AMOUNT_TOLERANCE
    if kind == "ratio":
        left, right = float(left), float(right)
        if math.isnan(left) or math.isnan(right):
            return math.isnan(left) and math.isnan(right)
        return abs(left - right) <= RATIO_TOLERANCE * max(1.0, abs(left), abs(right))
    return left == right


def _sort_key(row: tuple) -> tuple:
    return tuple(
        (value is None, str(type(value)), value if value is not None else 0) for value in row
    )


def compare_table(
    name: str, columns: list[tuple[str, str]], left: list[tuple], right: list[tuple]
) -> tuple[int, list[str]]:
    """Compare one table's rows; return the cells compared and the differences."""
    kinds = [_kind(data_type) for _, data_type in columns]
    exact = [i for i, kind in enumerate(kinds) if kind == "exact"]
    differences: list[str] = []
    if len(left) != len(right):
        differences.append(f"{name}: {len(left)} rows against {len(right)}")
    groups: dict[tuple, tuple[list, list]] = defaultdict(lambda: ([], []))
    for side, rows in enumerate((left, right)):
        for row in rows:
            groups[tuple(row[i] for i in exact)][side].append(row)
    cells = 0
    for key, (lefts, rights) in groups.items():
        described = ", ".join(f"{columns[i][0]}={v!r}" for i, v in zip(exact, key, strict=True))
        described = described if len(described) <= 240 else described[:237] + "..."
        if len(lefts) != len(rights):
            differences.append(
                f"{name}: {len(lefts)} rows against {len(rights)} with {described or 'no key'}"
            )
            continue
        for a, b in zip(sorted(lefts, key=_sort_key), sorted(rights, key=_sort_key), strict=True):
            for i, kind in enumerate(kinds):
                cells += 1
                if kind != "exact" and not _close(kind, a[i], b[i]):
                    differences.append(
                        f"{name}.{columns[i][0]}: {a[i]!r} against {b[i]!r} "
                        f"({kind}) where {described or 'no key'}"
                    )
    return cells, differences


def compare_snapshots(left: Path, right: Path) -> Comparison:
    """Compare every mart of two snapshot files (read-only)."""
    result = Comparison()
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)")
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)")
        left_tables, right_tables = _tables(con, "l"), _tables(con, "r")
        for table in sorted(set(left_tables) ^ set(right_tables)):
            where = left if table in left_tables else right
            result.differences.append(f"{table}: only in {where}")
        for table in sorted(set(left_tables) & set(right_tables)):
            result.tables += 1
            left_columns = left_tables[table]
            left_names = [name for name, _ in left_columns]
            right_names = [name for name, _ in right_tables[table]]
            if left_names != right_names:
                result.differences.append(f"{table}: columns {left_names} against {right_names}")
                continue
            # a column that is DECIMAL or floating on either side is compared with tolerance
            right_types = dict(right_tables[table])
            columns = [
                (name, data_type if _kind(data_type) != "exact" else right_types[name])
                for name, data_type in left_columns
            ]
            select = ", ".join(f'"{name}"' for name in left_names)
            rows = [
                con.execute(f"SELECT {select} FROM {side}.{SCHEMA}.{table}").fetchall()
                for side in ("l", "r")
            ]
            cells, differences = compare_table(table, columns, *rows)
            result.cells += cells
            result.differences += differences
    finally:
        con.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("snapshots", nargs="*", metavar="SNAPSHOT")
    parser.add_argument("--config", help="the cooperation.yml whose snapshot is the left one")
    parser.add_argument("--spark-snapshot", help="the right one, with --config")
    parser.add_argument("--show", type=int, default=20, help="differences printed (20)")
    args = parser.parse_args(argv)
    if args.config:
        from pipelines.settings import load_config

        if not args.spark_snapshot:
            parser.error("--config needs --spark-snapshot")
        left, right = load_config(args.config).snapshot, Path(args.spark_snapshot)
    elif len(args.snapshots) == 2:
        left, right = (Path(path) for path in args.snapshots)
    else:
        parser.error("give two snapshots, or --config and --spark-snapshot")
    for path in (left, right):
        if not path.is_file():
            print(f"parity: {path}: no such snapshot", file=sys.stderr)
            return 1
    result = compare_snapshots(left, right)
    print(
        f"parity: {left} against {right}: {result.tables} marts, {result.cells:,} cells, "
        f"{len(result.differences)} differences"
    )
    for difference in result.differences[: args.show]:
        print(f"  {difference}")
    if result.tables == 0:
        print("parity: no marts compared", file=sys.stderr)
        return 1
    return 0 if result.equal else 1


if __name__ == "__main__":
    sys.exit(main())
