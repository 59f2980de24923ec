"""AppTest of the deliveries page: who is overdue under the spend contract's SLA, and
what was rejected (the sample snapshot's DELIVERIES_SQL in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import duckdb
from streamlit.testing.v1 import AppTest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
PAGE = DASHBOARDS / "app_pages" / "deliveries.py"
APP = DASHBOARDS / "streamlit_app.py"


def run(script: Path) -> AppTest:
    app = AppTest.from_file(str(script), default_timeout=60).run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def test_overdue_members_are_named_and_rejections_listed(snapshot_path):
    app = run(PAGE)

    assert app.error[0].value == "Overdue: Selbu, Tydal"
    table = app.dataframe[0].value.set_index("municipality_name")
    assert table.loc["Stjørdal", "state"] == "on time"
    assert table.loc["Stjørdal", "last_file"] == "2024-05b.csv"
    assert table.loc["Stjørdal", "last_period"] == "2024-05"
    assert table.loc["Selbu", "state"] == "overdue"
    assert table.loc["Selbu", "last_accepted"] == "2024-06-05 08:00"
    assert table.loc["Selbu", "due"] == "2024-07-05"
    assert table.loc["Selbu", "rejected_deliveries"] == 1
    assert "missing required column 'Beløp'" in table.loc["Selbu", "last_rejection"]
    assert table.loc["Tydal", "last_accepted"] == "never"
    assert table.loc["Tydal", "state"] == "overdue"
    assert table.loc["Tydal", "last_file"] == "—"


def test_every_member_on_time_says_so(snapshot_path, tmp_path, monkeypatch):
    copy = tmp_path / "snapshot.duckdb"
    copy.write_bytes(snapshot_path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("UPDATE marts.delivery_reconciliation SET status = 'loaded', loaded_at = now()")
    con.close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = run(PAGE)

    assert not app.error
    assert app.success[0].value == "Every member has delivered on time."


def test_an_older_snapshot_without_the_mart_says_so(snapshot_path, tmp_path, monkeypatch):
    copy = tmp_path / "snapshot.duckdb"
    copy.write_bytes(snapshot_path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("ALTER TABLE marts.delivery_reconciliation DROP COLUMN delivery_period")
    con.close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = run(PAGE)

    assert "marts.delivery_reconciliation.delivery_period" in app.warning[0].value
    assert not app.dataframe


def test_the_page_is_routed_from_the_app(snapshot_path):
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.switch_page("app_pages/deliveries.py").run()
    assert not app.exception
    assert app.title[0].value.endswith(": deliveries")
