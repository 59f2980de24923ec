"""AppTest of every page in each language (nb, da, en) and of the council pages' figures,
drill-down links, privacy and downloads, on the sample snapshot of conftest.py."""

from __future__ import annotations

import io
import os

import openpyxl
import pandas as pd
import pytest

from dashboards import downloads, queries
from dashboards.i18n import LANGUAGES, translate
from tests.dashboards.pages import PAGES, all_text, metrics, open_page, plain, table_with

NAMED_PRIVATE_PERSONS = (
    "Ola Nordmann",
    "Kari Nordmann",
    "Kiosken på hjørnet",
    "Rørlegger Hansen",
    "Fosterhjem Hansen",  # a register supplier marked is_person
)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_in_every_language(snapshot_path, page: str, language: str) -> None:
    app = open_page(page, language)

    title = plain(app.title[0].value)
    if PAGES[page] is not None:
        expected = translate(
            PAGES[page], language, name="Testregionen Innkjøp", member="", year=""
        ).strip(", ")
        assert expected.split("{")[0].strip(", ") in title
    # the navigation and the sidebar are in the reader's language
    assert app.sidebar.selectbox[0].label == translate("app.language", language)
    text = all_text(app)
    assert "/data/" not in text  # no server paths (the deliveries' files are named only)
    if page != "followup":  # the procurement unit's follow-up page lists payees for audit
        for name in NAMED_PRIVATE_PERSONS:
            assert name not in text, f"{name} shown on {page} ({language})"


def test_the_language_follows_the_configuration_and_the_sidebar(snapshot_path, monkeypatch):
    assert plain(open_page("compare").title[0].value) == "Sammenlign kommunene"  # NO: nb
    monkeypatch.setenv("SAMKJOP_LANGUAGE", "da")  # cooperation.language, from the CLI
    app = open_page("compare")
    assert plain(app.title[0].value) == "Sammenlign kommunerne"

    app.sidebar.selectbox[0].set_value("en").run()

    assert plain(app.title[0].value) == "Compare members"
    assert app.query_params["lang"] == "en"


def test_compare_members_per_inhabitant_rank_and_change(snapshot_path) -> None:
    app = open_page("compare", "en")

    table = table_with(app, "Rank").set_index("Member")
    assert list(table.index) == ["Whole cooperation", "Stjørdal (host)", "Selbu", "Tydal"]
    assert table.loc["Tydal", "Rank"] == "1"  # no off-agreement spend
    assert table.loc["Stjørdal (host)", "Rank"] == "2"
    assert table.loc["Stjørdal (host)", "Rank last year"] == "3"
    assert table.loc["Selbu", "Off-agreement spend per inhabitant"] == "20 NOK"  # 80 000 / 4 096
    assert table.loc["Selbu", "Change loyalty"] == "-30.0 pp"  # 90.0 % in 2023 -> 60.0 %
    assert table.loc["Stjørdal (host)", "Change off-agreement per inhabitant"] == "+1 NOK"
    assert len(app.get("vega_lite_chart")) == 3


def test_ehandel_shares_come_from_the_marts(snapshot_path) -> None:
    app = open_page("ehandel", "nb")

    figures = metrics(app)
    assert figures["eHandel-andel av påvirkbart innkjøp"] == "28,6 %"  # 400 000 / 1 400 000
    assert figures["eHandel-andel av kjøp på avtale"] == "43,2 %"  # 350 000 / 810 000
    categories = table_with(app, "Kategori").set_index("Kategori")
    assert categories.loc["Kontorrekvisita", "eHandel-andel av påvirkbart innkjøp"] == "35,0 %"


def test_categories_heat_map_and_categories_without_agreement(snapshot_path) -> None:
    app = open_page("categories", "en")

    gaps = table_with(app, "Members buying")
    assert gaps["Category"].tolist() == ["Renhold"]
    assert gaps["Influenceable spend"].tolist() == ["200,000 NOK"]
    assert len(app.get("vega_lite_chart")) == 1  # the heat map
    app.selectbox(key="categories_category").set_value("FOOD").run()
    suppliers = table_with(app, "Supplier")
    assert suppliers["Supplier"].tolist() == ["Private persons (not named)"]


def test_member_story_drills_into_categories_and_suppliers(snapshot_path) -> None:
    app = open_page("member", "en", member="5035", year="2024")

    assert plain(app.title[0].value) == "Stjørdal (host), 2024"
    on = table_with(app, "Supplier", "On-agreement spend")
    off = table_with(app, "Supplier", "Off-agreement spend")
    assert on["Supplier"].tolist() == ["Kontor AS"]
    assert off["Supplier"].tolist() == ["Kontorkjeden AS", "Private persons (not named)"]
    assert off["Off-agreement spend"].tolist() == ["100,000 NOK", "60,000 NOK"]
    crossings = table_with(app, "Threshold")
    assert "Private persons (not named)" in crossings["Supplier"].tolist()  # Rørlegger Hansen
    links = [link for link in app.get("page_link")]
    assert links and "Follow-up for Stjørdal (host)" in links[0].proto.label
    assert "member=5035" in links[0].proto.query_string


def test_follow_up_opens_filtered_to_the_member_of_the_link(snapshot_path) -> None:
    app = open_page("followup", "en", member="5032", year="2024")
    assert app.selectbox(key="followup_member").value == "5032"


def test_supplier_search_never_finds_a_private_person(snapshot_path) -> None:
    for text in ("nordmann", "foster"):
        app = open_page("suppliers", "en", q=text, year="2024")
        assert app.info and "No supplier" in app.info[0].value

    app = open_page("suppliers", "en", q="kontor", year="2024")
    found = table_with(app, "Supplier")
    assert found["Supplier"].tolist() == ["Kontor AS", "Kontorkjeden AS"]
    per_member = table_with(app, "Member")
    assert per_member["Member"].tolist() == ["Stjørdal (host)", "Selbu"]
    assert per_member["Agreement loyalty"].tolist() == ["100.0%", "100.0%"]
    agreements = table_with(app, "Agreement")
    assert agreements["Agreement"].tolist() == ["Kontorrekvisita"]


def test_data_status_per_member(snapshot_path) -> None:
    app = open_page("deliveries", "en", year="2024")

    assert app.error[0].value == "Overdue: Selbu, Tydal"
    deliveries = table_with(app, "Last accepted delivery").set_index("Member")
    assert deliveries.loc["Stjørdal", "File"] == "2024-05b.csv"
    assert deliveries.loc["Selbu", "Declared period"] == "2024-05"
    assert deliveries.loc["Selbu", "Last accepted delivery"] == "5 Jun 2024 08:00"
    assert deliveries.loc["Selbu", "Next due by"] == "5 Jul 2024"
    assert deliveries.loc["Tydal", "Last accepted delivery"] == "never"
    assert "missing required column 'Beløp'" in deliveries.loc["Selbu", "Last rejection"]
    year = table_with(app, "Unmapped account codes").set_index("Member")
    assert year.loc["Tydal", "Rejected rows (all deliveries)"] == "2"
    assert year.loc["Stjørdal", "Unmapped account codes"] == "1"
    assert year.loc["Stjørdal", "Share of the member's spend"] == "1.0%"
    assert year.loc["Selbu", "Months with spend"] == "12"


def test_downloads_hold_every_row_with_the_pages_filters(snapshot_path) -> None:
    snapshot = queries.locate_snapshot()
    name, content = downloads.table_bytes(snapshot.path, "municipality_kpis", "csv", year=2024)
    assert name == "municipality_kpis_2024.csv"
    frame = pd.read_csv(io.BytesIO(content))
    assert sorted(frame["municipality_id"].astype(str)) == ["5032", "5033", "5035", "ALL"]
    name, content = downloads.table_bytes(
        snapshot.path, "off_agreement_purchases", "xlsx", municipality="5035", year=2024
    )
    assert name == "off_agreement_purchases_5035_2024.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    assert sheet.max_row == 1 + 2  # header and Stjørdal's two rows of 2024
    assert os.environ["SAMKJOP_SNAPSHOT"] == snapshot.path or snapshot.path.endswith(".duckdb")
