"""The end-of-run mapping coverage warnings, read from a published snapshot."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.mapping_report import unmapped_code_warnings, unmapped_shares


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A snapshot holding only marts.unmapped_codes, in the mart's contract types."""
    path = tmp_path / "samkjop.snapshot.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA marts")
    con.execute(
        """
        CREATE TABLE marts.unmapped_codes (
            municipality_id VARCHAR, municipality_name VARCHAR, year INTEGER,
            account_code VARCHAR, has_account BOOLEAN, art VARCHAR, line_count BIGINT,
            amount DECIMAL(18, 4), member_total_spend DECIMAL(18, 4),
            share_of_member_spend DOUBLE, largest_supplier_name VARCHAR
        )
        """
    )
    con.executemany(
        "INSERT INTO marts.unmapped_codes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [
            # Wakefield 2022: 40 + 30 + 10 + 5 of 1000 = 8.5 %
            ("E08000036", "Wakefield", 2022, "Parking", True, None, 4, 40, 1000),
            ("E08000036", "Wakefield", 2022, "(no account)", False, None, 3, 30, 1000),
            ("E08000036", "Wakefield", 2022, "Hire", True, "999", 2, 10, 1000),
            ("E08000036", "Wakefield", 2022, "Fuel", True, None, 1, 5, 1000),
            # ... 2021: 5 of 1000 = 0.5 %, below the share
            ("E08000036", "Wakefield", 2021, "Parking", True, None, 1, 5, 1000),
            # Harrogate: exactly 5 %, not above it
            ("E07000165", "Harrogate", 2021, "Misc", True, None, 1, 50, 1000),
            # a member whose year nets to 0: no share, no warning
            ("E08000033", "Calderdale", 2021, "9999", True, None, 2, 70, 0),
        ],
    )
    con.close()
    return path


def test_a_member_above_the_share_is_warned_about_with_its_largest_codes(snapshot):
    warnings = unmapped_code_warnings(snapshot, 0.05)
    assert warnings == [
        "E08000036 Wakefield 2022: 8.5% of its spend (85.00 on 10 lines) has no known "
        "KOSTRA art (above 5.0%), so it is not influenceable; largest codes: Parking 40.00, "
        "(no account) 30.00, Hire 10.00. Map them in the member's source profile "
        "(`samkjop export unmapped_codes`)."
    ]


def test_the_share_is_the_cooperations_setting(snapshot):
    assert len(unmapped_code_warnings(snapshot, 0.001)) == 3  # not the 0-total year
    assert unmapped_code_warnings(snapshot, 0.5) == []


def test_shares_per_member_and_year(snapshot):
    shares = {(s.municipality_id, s.year): s for s in unmapped_shares(snapshot)}
    assert shares[("E08000036", 2022)].amount == Decimal("85")
    assert shares[("E08000036", 2022)].share == pytest.approx(0.085)
    assert shares[("E07000165", 2021)].share == pytest.approx(0.05)
    assert shares[("E08000033", 2021)].share is None


def test_a_snapshot_without_the_table_gives_no_warning(tmp_path):
    path = tmp_path / "old.duckdb"
    duckdb.connect(str(path)).close()
    assert unmapped_code_warnings(path, 0.05) == []
