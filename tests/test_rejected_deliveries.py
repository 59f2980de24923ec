"""Exit codes that mean what they say: a file of which no row loads is a rejected delivery
(its rows stay findable, a retry never counts them twice, the member's earlier data stays);
an unexpected error inside one file rejects that file alone, rolled back, with its name and
a one-line message, and the member's other files still load."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import duckdb

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.profiles import load_profile
from pipelines.settings import load_config
from pipelines.spend_loader import file_sha256, load_spend_file
from pipelines.warehouse import MEMORY_ENV_VAR, create_raw_schema
from tests.conftest import CANONICAL_HEADER, write

LOG = logging.getLogger("test")
CONFIG = """
cooperation: {name: Test, country: NO, currency: NOK, host: "5035"}
agreements: [{path: agreements.csv, profile: canonical}]
municipalities:
  - id: "5035"
    name: Stjørdal
    spend:
      - path: spend/*.csv
        profile: canonical
        period: {from_name: '(?P<year>\\d{4})-(?P<month>\\d{2})'}
"""


def _line(invoice: str, amount: str, day: str = "2024-03-05", text: str = "") -> str:
    return f"5035,{invoice},1,{day},923609016,Data AS,11500,115,{amount},NOK,,,{text},,\n"


def _spend(root: Path, name: str, lines: list[str], mtime: int) -> Path:
    path = write(root / "spend" / name, CANONICAL_HEADER + "\n" + "".join(lines))
    os.utime(path, (mtime, mtime))
    return path


def _cooperation(root: Path):
    write(root / "agreements.csv", "agreement_id\n")
    return load_config(write(root / "cooperation.yml", CONFIG))


def _query(cooperation, sql: str) -> list[tuple]:
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_file_whose_every_row_is_rejected_is_a_rejected_delivery(tmp_path):
    _spend(tmp_path, "2024-02.csv", [_line("A", "10"), _line("B", "20")], 1)
    cooperation = _cooperation(tmp_path)
    assert [r.status for r in load_member_deliveries(cooperation, "5035", LOG)] == ["loaded"]
    # a re-delivery of February in which every amount is unreadable
    _spend(tmp_path, "2024-02-corrected.csv", [_line("A", "ti"), _line("B", "1e+15")], 2)
    for _ in range(2):  # this run, and the next one (a retry)
        results = load_member_deliveries(cooperation, "5035", LOG)
        assert [r.status for r in results] == ["skipped_duplicate", "rejected"]
        assert results[1].message == (
            "2024-02-corrected.csv: every row is rejected (2); most often: amount_excl_vat "
            "'ti' is not a number (decimal separator .) (1 row). The rows are in "
            "rejected_rows; the member's earlier data stays"
        )
    # the earlier delivery of the period stays, nothing replaced it
    assert _query(cooperation, "SELECT count(*), sum(amount_excl_vat) FROM raw.spend_lines") == [
        (2, 30)
    ]
    assert _query(cooperation, "SELECT count(*) FROM raw.delivery_replacements") == [(0,)]
    # its rows are findable with their reasons, once, however often it is retried
    assert _query(
        cooperation,
        "SELECT d.status, d.rows_read, d.rows_rejected, count(r.reason) FROM raw.deliveries d "
        "JOIN raw.rejected_rows r USING (delivery_id) GROUP BY ALL",
    ) == [("rejected", 2, 2, 2)]


def test_a_file_with_only_excluded_rows_still_loads(tmp_path):
    """Rows the profile excludes are not spend, not errors: such a file is not rejected."""
    write(
        tmp_path / "p.yaml",
        """
        profile: p
        csv: {delimiter: ";"}
        fields:
          invoice_id: {column: Bilag}
          invoice_date: {column: Dato}
          amount_excl_vat: {column: Beløp}
          account: {column: Konto}
        exclude_rows: [{column: Konto, matches: '^9', reason: income}]
        """,
    )
    path = write(tmp_path / "d.csv", "Bilag;Dato;Beløp;Konto\nB1;2024-03-05;5;9000\n")
    con = duckdb.connect()
    create_raw_schema(con)
    result = load_spend_file(con, path, "5035", load_profile("p.yaml", tmp_path), "NO", "NOK")
    assert (result.status, result.rows_excluded) == ("loaded", 1)
    con.close()


def test_an_unexpected_error_in_one_file_rejects_that_file_alone(tmp_path, monkeypatch):
    """A file too large for the warehouse's memory (a real DuckDB out-of-memory error) is
    rejected with its name and the error's first line, rolled back; the member's other
    files load, and the next run tries it again."""
    long_text = "x" * 200_000
    _spend(tmp_path, "2024-01.csv", [_line("A", "10")], 1)
    _spend(tmp_path, "2024-02.csv", [_line(f"B{i}", "1", text=long_text) for i in range(300)], 2)
    _spend(tmp_path, "2024-03.csv", [_line("C", "30")], 3)
    cooperation = _cooperation(tmp_path)
    monkeypatch.setenv(MEMORY_ENV_VAR, "30MB")
    results = load_member_deliveries(cooperation, "5035", LOG)
    assert [r.status for r in results] == ["loaded", "rejected", "loaded"]
    message = results[1].message
    assert message.startswith("2024-02.csv: could not be loaded (OutOfMemoryException: ")
    assert message.endswith("); an unexpected error, this file alone is rejected")
    assert "\n" not in message and "Traceback" in results[1].detail
    assert _query(cooperation, "SELECT invoice_id FROM raw.spend_lines ORDER BY 1") == [
        ("A",),
        ("C",),
    ]
    assert _query(cooperation, "SELECT count(*) FROM raw.rejected_rows") == [(0,)]
    assert _query(
        cooperation, "SELECT status, message FROM raw.deliveries WHERE source_file LIKE '%02.csv'"
    ) == [("rejected", message)]
    monkeypatch.setenv(MEMORY_ENV_VAR, "1GB")  # memory enough: the next run loads it
    results = load_member_deliveries(cooperation, "5035", LOG)
    assert [r.status for r in results] == ["skipped_duplicate", "loaded", "skipped_duplicate"]
    assert _query(cooperation, "SELECT count(*), count(DISTINCT status) FROM raw.deliveries") == [
        (3, 1)
    ]


def test_a_file_gone_before_it_is_read_is_rejected_with_its_name(tmp_path):
    path = write(tmp_path / "gone.csv", CANONICAL_HEADER + "\n" + _line("A", "10"))
    sha = file_sha256(path)
    path.unlink()
    con = duckdb.connect()
    create_raw_schema(con)
    profile = load_profile("canonical", tmp_path)
    result = load_spend_file(con, path, "5035", profile, "NO", "NOK", sha=sha)
    assert result.status == "rejected"
    assert result.message.startswith("gone.csv: could not be loaded (FileNotFoundError: ")
    assert con.execute("SELECT status FROM raw.deliveries").fetchall() == [("rejected",)]
    con.close()
