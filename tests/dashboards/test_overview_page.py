"""AppTest of the cooperation overview page, alone and routed by streamlit_app.py.

Expected values come from the sample snapshot in conftest.py: for 'ALL' in 2024
influenceable 1 400 000, covered 1 050 000, on-agreement 810 000, shared covered
600 000, shared on-agreement 510 000; in 2023 influenceable 1 230 000, covered
700 000, on-agreement 560 000 and no shared agreement (shared loyalty NULL).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.dashboards.pages import (
    all_text,
    captions_outside_expanders,
    metrics,
    open_page,
    plain,
    table_with,
)


def test_headline_metrics_default_to_the_latest_year_in_norwegian(snapshot_path: Path) -> None:
    app = open_page("overview", via_app=False)  # the country (NO) decides: bokmål

    assert app.selectbox(key="overview_year").value == 2024
    assert metrics(app) == {
        "Påvirkbart innkjøp": "1,4 mill. kr",
        "Avtaledekning": "75,0 %",
        "Avtalelojalitet": "77,1 %",
        "Kjøp utenfor avtale": "240 000 kr",
        "Avtaledekning, fellesavtaler": "42,9 %",
        "Avtalelojalitet, fellesavtaler": "85,0 %",
    }
    by_label = {plain(metric.label): metric for metric in app.metric}
    assert plain(by_label["Avtalelojalitet"].delta) == "-2,9 pp"  # 77.1 % against 80 %
    assert not by_label["Avtaledekning"].delta  # the fixture's coverage target is NULL
    text = all_text(app)
    assert "Mål: avtalelojalitet 80,0 %, avtaledekning ikke satt" in text
    assert "Data publisert 31. jan. 2025 kl. 14:05" in text


def test_the_same_figures_in_english_and_danish(snapshot_path: Path) -> None:
    english = metrics(open_page("overview", "en", via_app=False))
    danish = metrics(open_page("overview", "da", via_app=False))

    assert english["Influenceable spend"] == "1.4M NOK"
    assert english["Coverage"] == "75.0%"
    assert danish["Påvirkeligt indkøb"] == "1,4 mio. NOK"
    assert danish["Aftaleloyalitet (compliance)"] == "77,1 %"


def test_changing_the_year_changes_the_metrics(snapshot_path: Path) -> None:
    app = open_page("overview", "en", via_app=False)

    app.selectbox(key="overview_year").set_value(2023).run()

    assert not app.exception
    assert metrics(app) == {
        "Influenceable spend": "1.2M NOK",
        "Coverage": "56.9%",
        "Agreement loyalty": "80.0%",
        "Off-agreement spend": "140,000 NOK",
        "Coverage, shared agreements": "0.0%",  # defined: nothing covered by shared agreements
        "Loyalty, shared agreements": "–",  # undefined: shared covered spend is 0
    }
    assert app.query_params["year"] == "2023"  # the view is a link


def test_undefined_member_ratios_are_named_not_drawn_as_zero(snapshot_path: Path) -> None:
    app = open_page("overview", "en", via_app=False, year="2023")

    assert app.selectbox(key="overview_year").value == 2023
    text = all_text(app)
    assert "Tydal: Agreement loyalty" in text
    assert "Tydal: Coverage;" not in text
    figures = table_with(app, "Member").set_index("Member")
    assert figures.loc["Tydal", "Coverage"] == "0.0%"
    assert figures.loc["Tydal", "Agreement loyalty"] == "–"
    assert list(figures.index) == ["Whole cooperation", "Stjørdal (host)", "Selbu", "Tydal"]


def test_sources_are_in_help_expanders_and_charts_are_drawn(snapshot_path: Path) -> None:
    app = open_page("overview", "en", via_app=False)

    outside = captions_outside_expanders(app.main)
    assert outside  # the walk finds captions
    assert not [text for text in outside if "marts." in text]
    helps = [e for e in app.expander if e.label == "What the figures mean"]
    inside = "\n".join(plain(m.value) for e in helps for m in [*e.markdown, *e.caption])
    assert "`marts.municipality_kpis`" in inside
    assert "On-agreement spend / covered spend" in inside
    assert len(app.get("vega_lite_chart")) == 4  # per member x2, by quarter x2


def test_off_agreement_suppliers_top_15_private_persons_not_named(snapshot_path: Path) -> None:
    app = open_page("overview", "en", via_app=False)

    table = table_with(app, "Supplier")
    assert len(table) == 15
    assert table["Supplier"].iloc[0] == "Leverandør 01 AS"
    assert table["Off-agreement spend"].iloc[0] == "43,000 NOK"  # 18 000 + 25 000
    assert "Kiosken på hjørnet" not in all_text(app)  # no organisation number: a person?

    app.selectbox(key="overview_supplier_member").set_value("5032").run()

    table = table_with(app, "Supplier")
    assert table["Supplier"].tolist() == ["Leverandør 01 AS", "Private persons (not named)"]
    assert table["Organisation number"].tolist() == ["900000001", "–"]
    assert "Kreditnota AS" not in table["Supplier"].tolist()  # net negative: not listed
    assert "37,000 NOK of 80,000 NOK off-agreement spend" in all_text(app)
    assert app.query_params["member"] == "5032"


def test_the_app_routes_to_the_overview(snapshot_path: Path) -> None:
    app = open_page("overview", "en")

    assert metrics(app)["Coverage"] == "75.0%"
    sidebar = [plain(caption.value) for caption in app.sidebar.caption]
    assert "Data published 31 Jan 2025 14:05" in sidebar


@pytest.mark.parametrize("via_app", [False, True], ids=["page", "app"])
def test_unset_snapshot_variable_explains_what_to_run(
    via_app: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAMKJOP_SNAPSHOT", raising=False)

    app = open_page("overview", "en", via_app=via_app)

    assert "SAMKJOP_SNAPSHOT" in app.error[0].value
    assert "samkjop run --config cooperation.yml" in app.info[0].value
    assert not app.metric


def test_snapshot_not_published_yet_explains_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "published" / "snapshot.duckdb"
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(missing))

    app = open_page("overview", "nb")

    assert "samkjop run --config cooperation.yml" in app.info[0].value
    assert app.info[0].value.startswith("Kjør løsningen først")
    assert not app.metric


def test_snapshot_without_the_marts_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "snapshot.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(empty))

    app = open_page("overview", "en")

    assert "`marts.municipality_kpis`" in app.error[0].value
    assert "samkjop run --config cooperation.yml" in app.info[0].value


def test_snapshot_lacking_a_column_names_it(
    snapshot_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, older)
    with duckdb.connect(str(older)) as con:
        con.execute("alter table marts.municipality_kpis drop column shared_loyalty")
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(older))

    app = open_page("overview", "en", via_app=False)

    assert "`marts.municipality_kpis.shared_loyalty`" in app.error[0].value
    assert "marts.cooperation" not in app.error[0].value
    assert not app.metric


def test_the_default_year_is_the_latest_complete_one_and_partial_years_say_so(
    snapshot_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One member delivered a single month of 2024: the page opens on 2023, and 2024 is
    marked partial when chosen (marts.data_completeness decides, as for `samkjop run`)."""
    partial = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, partial)
    with duckdb.connect(str(partial)) as con:
        con.execute(
            "update marts.data_completeness set is_complete_year = false, "
            "complete_member_count = 2 where year = 2024 and municipality_id = 'ALL'"
        )
        con.execute("update marts.data_completeness set is_default_year = (year = 2023)")
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(partial))

    app = open_page("overview", "nb", via_app=False)

    assert app.selectbox(key="overview_year").value == 2023
    assert not app.warning
    assert "2024 (ufullstendig)" in app.selectbox(key="overview_year").options
    app.selectbox(key="overview_year").set_value(2024).run()
    assert plain(app.warning[0].value).startswith(
        "2024 er et ufullstendig år: 3 av 3 kommuner har innkjøp i året, 2 alle 12 månedene."
    )
