"""AppTest of the data status page (deliveries): who is overdue under the spend contract's
SLA, and what was rejected (the sample snapshot's DELIVERIES_SQL in conftest.py). The
per-member figures are checked in test_council_pages.py."""

from __future__ import annotations

import duckdb

from tests.dashboards.pages import download_text, open_page, plain, table_with


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


def test_a_personal_identity_number_in_a_rejection_is_masked(snapshot_path, tmp_path, monkeypatch):
    """A fødselsnummer quoted in a rejected delivery's message, in a rejected row's text and
    reason, is shown and downloaded as PERSONAL_ID_MASK (pipelines.orgno)."""
    from dashboards import downloads
    from pipelines.orgno import PERSONAL_ID_MASK
    from tests.test_export_personal_id_numbers import FNR

    copy = tmp_path / "snapshot.duckdb"
    copy.write_bytes(snapshot_path.read_bytes())
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE marts.delivery_reconciliation SET message = ? WHERE delivery_id = 'd4'",
        [f"2024-06.csv: row 3: organisation number '{FNR}' is not valid"],
    )
    con.execute(
        "UPDATE marts.rejected_rows SET raw_row = ?, reason = ? WHERE delivery_id = 'd4'",
        [f"F-9;1;2024-06-03;{FNR};Ola Nordmann;-100", f"Orgnr: '{FNR}' is not valid"],
    )
    con.close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = open_page("deliveries", "en", via_app=False)

    table = table_with(app, "Last accepted delivery").set_index("Member")
    assert table.loc["Selbu", "Last rejection"] == (
        f"2024-06.csv: row 3: organisation number '{PERSONAL_ID_MASK}' is not valid"
    )
    shown = "\n".join(str(v) for frame in app.dataframe for v in frame.value.to_numpy().ravel())
    assert FNR not in shown
    for table_name in ("delivery_reconciliation", "rejected_rows"):
        for fmt in downloads.FORMATS:
            _, content = downloads.download_bytes(copy, table_name, fmt)
            text = download_text(content, fmt)
            assert FNR not in text, (table_name, fmt)
            assert PERSONAL_ID_MASK in text, (table_name, fmt)
