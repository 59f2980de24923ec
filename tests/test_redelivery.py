"""Re-deliveries: files add up unless the cooperation declared that two cover the same
member, series and period; the newer one then replaces the older, whatever their names."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest.assets import load_member_deliveries
from pipelines.settings import ConfigError, load_config
from tests.conftest import CANONICAL_HEADER, write

LOG = logging.getLogger("test")

CONFIG = """
cooperation: {{name: Test, country: NO, currency: NOK, host: "5037"}}
agreements: [{{path: agreements.csv, profile: canonical}}]
municipalities:
  - id: "5037"
    name: Levanger
    spend:
{spend}
"""
MONTHLY = """      - path: spend/*.csv
        profile: canonical
        period: {from_name: '(?P<year>\\d{4})-(?P<month>\\d{2})'}"""


def _cooperation(root: Path, spend: str = MONTHLY):
    write(root / "agreements.csv", "agreement_id\n")
    return load_config(write(root / "cooperation.yml", CONFIG.format(spend=spend)))


def _spend(root: Path, name: str, rows: list[tuple[str, str, str]], mtime: int) -> Path:
    """A canonical file of (invoice id, invoice date, amount) rows, modified at `mtime`."""
    body = "".join(
        f"5037,{invoice},1,{day},974760673,Kontor AS,11500,115,{amount},NOK,,,,,\n"
        for invoice, day, amount in rows
    )
    path = write(root / "spend" / name, CANONICAL_HEADER + "\n" + body)
    os.utime(path, (mtime, mtime))
    return path


def _live(cooperation) -> tuple[int, Decimal]:
    """Lines and amount that count: loaded and not in a replaced delivery."""
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT count(*), coalesce(sum(amount_excl_vat), 0) FROM raw.spend_lines AS l "
            "WHERE NOT EXISTS (SELECT 1 FROM raw.delivery_replacements AS r "
            "WHERE r.delivery_id = l.delivery_id)"
        ).fetchone()
    finally:
        con.close()


def _replacements(cooperation) -> list[tuple]:
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    try:
        return con.execute(
            "SELECT d.source_file, r.reason, r.rows_replaced, r.amount_replaced "
            "FROM raw.delivery_replacements AS r JOIN raw.deliveries AS d USING (delivery_id)"
        ).fetchall()
    finally:
        con.close()


def test_monthly_files_with_outlier_dates_never_replace_each_other(tmp_path):
    """A council's monthly files carry old and mistyped invoice dates, so their date
    ranges nest: each declared month still adds its lines. (Dates more than
    limits.invoice_date_years_before / _after around the period are rejected:
    tests/test_plausible_values.py.)"""
    _spend(tmp_path, "2021-01.csv", [("A", "2016-05-01", "10"), ("B", "2021-01-31", "20")], 1)
    _spend(tmp_path, "2021-02.csv", [("C", "2021-02-03", "30")], 2)
    _spend(tmp_path, "2021-03.csv", [("D", "2017-01-01", "40"), ("E", "2022-03-01", "50")], 3)
    cooperation = _cooperation(tmp_path)
    results = load_member_deliveries(cooperation, "5037", LOG)
    assert [r.status for r in results] == ["loaded"] * 3
    assert _live(cooperation) == (5, Decimal("150"))
    assert _replacements(cooperation) == []


def test_a_redelivery_of_a_declared_month_replaces_it_and_says_what_left(tmp_path):
    _spend(tmp_path, "2021-01.csv", [("A", "2021-01-05", "10"), ("B", "2021-01-31", "20")], 1)
    _spend(tmp_path, "2021-02.csv", [("C", "2021-02-03", "30")], 2)
    cooperation = _cooperation(tmp_path)
    load_member_deliveries(cooperation, "5037", LOG)
    _spend(tmp_path, "2021-01-corrected.csv", [("A", "2021-01-05", "15")], 3)
    results = load_member_deliveries(cooperation, "5037", LOG)
    assert [r.status for r in results] == ["skipped_duplicate", "skipped_duplicate", "loaded"]
    assert _live(cooperation) == (2, Decimal("45"))
    ((source, reason, rows, amount),) = _replacements(cooperation)
    assert Path(source).name == "2021-01.csv"
    assert reason == "replaced by 2021-01-corrected.csv: a re-delivery of period 2021-01"
    assert (rows, amount) == (2, Decimal("30"))
    # a third run changes nothing
    load_member_deliveries(cooperation, "5037", LOG)
    assert _live(cooperation) == (2, Decimal("45"))
    assert len(_replacements(cooperation)) == 1


@pytest.mark.parametrize(
    ("older", "newer"), [("2021-01-a.csv", "2021-01-b.csv"), ("2021-01-b.csv", "2021-01-a.csv")]
)
def test_the_newer_file_counts_whatever_the_names(tmp_path, older, newer):
    _spend(tmp_path, older, [("A", "2021-01-05", "10")], 1)
    _spend(tmp_path, newer, [("A", "2021-01-05", "12")], 2)
    cooperation = _cooperation(tmp_path)
    load_member_deliveries(cooperation, "5037", LOG)
    assert _live(cooperation) == (1, Decimal("12"))
    assert [Path(source).name for source, *_ in _replacements(cooperation)] == [older]


def test_a_series_group_keeps_card_files_apart_from_invoice_files(tmp_path):
    spend = MONTHLY.replace("(?P<month>\\d{2})'", "(?P<month>\\d{2})(?P<series>-card)?'")
    _spend(tmp_path, "2021-01-card.csv", [("K", "2021-01-05", "7")], 1)
    _spend(tmp_path, "2021-01.csv", [("A", "2021-01-05", "10")], 2)
    cooperation = _cooperation(tmp_path, spend)
    load_member_deliveries(cooperation, "5037", LOG)
    assert _live(cooperation) == (2, Decimal("17"))


def test_a_file_without_the_declared_period_in_its_name_is_rejected_by_name(tmp_path):
    _spend(tmp_path, "januar.csv", [("A", "2021-01-05", "10")], 1)
    cooperation = _cooperation(tmp_path)
    (result,) = load_member_deliveries(cooperation, "5037", LOG)
    assert result.status == "rejected"
    assert "januar.csv: the name does not carry a period" in result.message
    assert "(?P<year>" in result.message


def test_period_file_lets_a_changed_file_replace_its_earlier_content(tmp_path):
    spend = "      - {path: spend/*.csv, profile: canonical, period: file}"
    _spend(tmp_path, "levanger.csv", [("A", "2021-01-05", "10")], 1)
    cooperation = _cooperation(tmp_path, spend)
    load_member_deliveries(cooperation, "5037", LOG)
    _spend(tmp_path, "levanger.csv", [("A", "2021-01-05", "10"), ("B", "2021-02-05", "5")], 2)
    load_member_deliveries(cooperation, "5037", LOG)
    assert _live(cooperation) == (2, Decimal("15"))


def test_a_period_rule_declared_later_covers_the_files_loaded_before(tmp_path):
    additive = "      - {path: spend/*.csv, profile: canonical}"
    _spend(tmp_path, "2021-01.csv", [("A", "2021-01-05", "10")], 1)
    load_member_deliveries(_cooperation(tmp_path, additive), "5037", LOG)
    _spend(tmp_path, "2021-01-v2.csv", [("A", "2021-01-05", "11")], 2)
    cooperation = _cooperation(tmp_path)
    load_member_deliveries(cooperation, "5037", LOG)
    assert _live(cooperation) == (1, Decimal("11"))


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        ("{from_name: '(\\d{4})'}", "name the groups"),
        ("{from_name: '(?P<year>\\d{4})(?P<day>\\d\\d)'}", "name the groups"),
        ("{from_name: '(?P<year>'}", "not a valid regular expression"),
        ("monthly", "expected a mapping"),
    ],
)
def test_a_wrong_period_rule_names_the_key(tmp_path, period, problem):
    spend = f"      - {{path: spend/*.csv, profile: canonical, period: {period}}}"
    _spend(tmp_path, "2021-01.csv", [("A", "2021-01-05", "10")], 1)
    with pytest.raises(ConfigError) as error:
        _cooperation(tmp_path, spend)
    assert "municipalities[0].spend[0].period" in str(error.value)
    assert problem in str(error.value)


def test_a_profile_typo_never_turns_loaded_deliveries_rejected(tmp_path):
    _spend(tmp_path, "2021-01.csv", [("A", "2021-01-05", "10")], 1)
    cooperation = _cooperation(tmp_path)
    load_member_deliveries(cooperation, "5037", LOG)
    typo = _cooperation(tmp_path, MONTHLY.replace("canonical", "canonicl"))
    _spend(tmp_path, "2021-02.csv", [("B", "2021-02-05", "20")], 2)
    results = load_member_deliveries(typo, "5037", LOG)
    assert [r.status for r in results] == ["rejected", "rejected"]
    assert "loaded before and stays" in results[0].message
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    statuses = con.execute("SELECT status FROM raw.deliveries ORDER BY source_file").fetchall()
    con.close()
    assert statuses == [("loaded",), ("rejected",)]
    load_member_deliveries(_cooperation(tmp_path), "5037", LOG)
    assert _live(cooperation) == (2, Decimal("30"))


def test_a_warehouse_of_an_earlier_version_keeps_its_deliveries_and_replacements(tmp_path):
    """Deliveries and replacements recorded before declared periods existed stay as they
    were; new deliveries load beside them."""
    _spend(tmp_path, "2021-02.csv", [("B", "2021-02-05", "20")], 2)
    cooperation = _cooperation(tmp_path)
    cooperation.warehouse.parent.mkdir(parents=True)
    old = duckdb.connect(str(cooperation.warehouse))
    old.execute("CREATE SCHEMA raw")
    old.execute(
        "CREATE TABLE raw.deliveries (delivery_id VARCHAR, municipality_id VARCHAR, "
        "source_file VARCHAR, file_sha256 VARCHAR, profile VARCHAR, rows_read BIGINT, "
        "rows_loaded BIGINT, rows_rejected BIGINT, amount_loaded DECIMAL(18, 4), "
        "first_invoice_date DATE, last_invoice_date DATE, status VARCHAR, message VARCHAR, "
        "loaded_at TIMESTAMP)"
    )
    old.execute(
        "CREATE TABLE raw.delivery_replacements (delivery_id VARCHAR, replaced_by VARCHAR, "
        "replaced_at TIMESTAMP, reason VARCHAR)"
    )
    for delivery in ("OLD-1", "OLD-2"):
        old.execute(
            "INSERT INTO raw.deliveries VALUES (?, '5037', ?, 'sha', 'canonical', 1, 1, 0, 5, "
            "DATE '2020-01-01', DATE '2020-01-31', 'loaded', NULL, TIMESTAMP '2024-01-01')",
            [delivery, f"/old/{delivery}.csv"],
        )
    old.execute(
        "INSERT INTO raw.delivery_replacements VALUES "
        "('OLD-1', 'OLD-2', TIMESTAMP '2024-01-01', 'replaced by the old date-span rule')"
    )
    old.close()

    (result,) = load_member_deliveries(cooperation, "5037", LOG)

    assert result.status == "loaded"
    con = duckdb.connect(str(cooperation.warehouse), read_only=True)
    try:
        assert con.execute(
            "SELECT delivery_id, replaced_by, reason FROM raw.delivery_replacements"
        ).fetchall() == [("OLD-1", "OLD-2", "replaced by the old date-span rule")]
        assert con.execute(
            "SELECT delivery_id, status, period FROM raw.deliveries ORDER BY loaded_at"
        ).fetchall() == [
            ("OLD-1", "loaded", None),
            ("OLD-2", "loaded", None),
            (result.delivery_id, "loaded", "2021-02"),
        ]
    finally:
        con.close()
