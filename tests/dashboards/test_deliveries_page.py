"""AppTest of the data status page (deliveries): who is overdue under the spend contract's
SLA, and what was rejected (the sample snapshot's DELIVERIES_SQL in conftest.py). The
per-member figures are checked in test_council_pages.py."""

from __future__ import annotations

import duckdb

from tests.dashboards.pages import open_page, plain, table_with


def test_overdue_members_are_named_in_norwegian(snapshot_path):
    app = open_page("deliveries", "nb", via_app=False)

    assert app.error[0].value == "Forsinket: Selbu, Tydal"
    table = table_with(app, "Siste godkjente leveranse").set_index("Kommune")
    assert table.loc["Stjørdal", "Status"] == "i tide"
    assert table.loc["Selbu", "Status"] == "forsinket"
    assert table.loc["Selbu", "Siste godkjente leveranse"] == "5. juni 2024 08:00"
    assert table.loc["Tydal", "Siste godkjente leveranse"] == "aldri"
    assert table.loc["Tydal", "Fil"] == "–"


def test_every_member_on_time_says_so(snapshot_path, tmp_path, monkeypatch):
    copy = tmp_path / "snapshot.duckdb"
    copy.write_bytes(snapshot_path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("UPDATE marts.delivery_reconciliation SET status = 'loaded', loaded_at = now()")
    con.close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = open_page("deliveries", "en", via_app=False)

    assert not app.error
    assert app.success[0].value == "Every member has delivered on time."


def test_an_older_snapshot_without_the_mart_says_so(snapshot_path, tmp_path, monkeypatch):
    copy = tmp_path / "snapshot.duckdb"
    copy.write_bytes(snapshot_path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute("ALTER TABLE marts.delivery_reconciliation DROP COLUMN delivery_period")
    con.close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = open_page("deliveries", "en", via_app=False)

    assert "marts.delivery_reconciliation.delivery_period" in app.warning[0].value
    assert not [frame for frame in app.dataframe if "State" in frame.value.columns]


def test_the_page_is_routed_from_the_app(snapshot_path):
    app = open_page("deliveries", "en")
    assert plain(app.title[0].value).endswith(": data status")
    assert not app.metric
