"""Unit tests of the dashboards' pure helpers: formatting, queries, charts, screenshot."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboards import charts, queries, screenshot
from dashboards.formatting import (
    fmt_amount,
    fmt_amount_short,
    fmt_date,
    fmt_org_no,
    fmt_pct,
    fmt_pp,
    fmt_price,
    fmt_quantity,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.834, "83.4 %"), (0.0, "0.0 %"), (1, "100.0 %"), (None, "n/a"), (math.nan, "n/a")],
)
def test_fmt_pct(value: object, expected: str) -> None:
    assert fmt_pct(value) == expected


def test_fmt_amount_and_pp_and_org_no() -> None:
    assert fmt_amount(12345678.4, "NOK") == "12 345 678 NOK"
    assert fmt_amount(-1500, "DKK") == "-1 500 DKK"
    assert fmt_amount(42) == "42"
    assert fmt_amount_short(1_708_583_975, "NOK") == "1 708.6 M NOK"
    assert fmt_amount_short(9_999_999, "NOK") == "9 999 999 NOK"
    assert fmt_amount(pd.NA, "NOK") == "n/a"
    assert fmt_pp(-0.0291) == "-2.9 pp"
    assert fmt_pp(0.8 - 0.8000001) == "+0.0 pp"
    assert fmt_org_no(None) == "–"
    assert fmt_org_no("974760673") == "974760673"


def test_fmt_price_quantity_and_date() -> None:
    assert fmt_price(1234.5, "NOK") == "1 234.50 NOK"
    assert fmt_price(4.5, "EUR") == "4.50 EUR"
    assert fmt_price(None, "NOK") == "n/a"
    assert fmt_quantity(5.0) == "5"
    assert fmt_quantity(-2.5) == "-2.5"
    assert fmt_quantity(12345.125) == "12 345.125"
    assert fmt_quantity(math.nan) == "n/a"
    assert fmt_date(pd.Timestamp("2024-05-31")) == "2024-05-31"
    assert fmt_date(pd.NaT) == "n/a"
    assert fmt_date("2024-05-31") == "2024-05-31"


def test_missing_columns_of_a_given_contract(snapshot_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, path)
    with duckdb.connect(str(path)) as con:
        con.execute("drop table marts.price_deviations")
        con.execute("alter table marts.threshold_flags drop column supplier_name")
    snapshot = queries.locate_snapshot({"SAMKJOP_SNAPSHOT": str(path)})

    assert queries.missing_columns(snapshot) == []  # not part of every page's contract
    assert queries.missing_columns(snapshot, queries.FOLLOWUP_COLUMNS) == [
        "marts.threshold_flags.supplier_name",
        "marts.price_deviations",
    ]


def test_locate_snapshot_explains_a_missing_variable_or_file(tmp_path: Path) -> None:
    with pytest.raises(queries.SnapshotUnavailable, match="SAMKJOP_SNAPSHOT"):
        queries.locate_snapshot({})
    with pytest.raises(queries.SnapshotUnavailable, match="No published data snapshot"):
        queries.locate_snapshot({"SAMKJOP_SNAPSHOT": str(tmp_path / "nope.duckdb")})


def test_queries_leave_no_connection_open_and_see_a_republished_snapshot(
    snapshot_file: Path, tmp_path: Path
) -> None:
    path = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, path)
    snapshot = queries.locate_snapshot({"SAMKJOP_SNAPSHOT": str(path)})
    assert queries.years(snapshot) == [2024, 2023]
    assert queries.missing_columns(snapshot) == []
    assert queries.missing_columns(snapshot, queries.FOLLOWUP_COLUMNS) == []

    # A writer can open the file right away: the dashboard holds no connection.
    with duckdb.connect(str(path)) as writer:
        writer.execute(
            "insert into marts.municipality_kpis (municipality_id, municipality_name, year) "
            "values ('ALL', 'Testregionen Innkjøp', 2025)"
        )
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))

    republished = queries.locate_snapshot({"SAMKJOP_SNAPSHOT": str(path)})
    assert republished.version != snapshot.version
    assert queries.years(republished) == [2025, 2024, 2023]


def test_quarterly_kpis_read_only_quarters(snapshot_path: Path) -> None:
    frame = queries.quarterly_kpis(queries.locate_snapshot())
    assert set(frame["period_type"]) == {"quarter"}
    assert len(frame) == 4 * 2 * 4  # three members and ALL, two years, four quarters


def test_member_chart_draws_the_target_rule_and_labels_undefined_ratios() -> None:
    frame = pd.DataFrame(
        {
            "label": ["Whole cooperation", "Tydal"],
            "loyalty": [0.771, math.nan],
            "shared_loyalty": [0.85, math.nan],
        }
    )
    spec = json.dumps(charts.ratio_by_member_chart(frame, "loyalty", "Loyalty", 0.8).to_dict())
    assert '"rule"' in spec
    assert "Target 80.0 %" in spec
    assert '"n/a"' in spec

    no_target = charts.ratio_by_member_chart(frame, "loyalty", "Loyalty", None).to_dict()
    assert '"rule"' not in json.dumps(no_target)


def test_screenshot_commands() -> None:
    command = screenshot.chromium_command("/usr/bin/chromium", "/tmp/profile", 1400, 2200)
    assert {"--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe"} <= set(
        command
    )
    assert "--window-size=1400,2200" in command
    served = screenshot.streamlit_command(8599)
    assert served[served.index("--server.port") + 1] == "8599"
    assert served[served.index("--server.headless") + 1] == "true"
    assert served[4] == str(screenshot.APP)
    assert 0 < screenshot.free_port() < 65536
