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
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
APP = DASHBOARDS / "streamlit_app.py"
OVERVIEW = DASHBOARDS / "app_pages" / "overview.py"

INFLUENCEABLE = "Influenceable spend (påvirkbart innkjøp)"
COVERAGE = "Coverage (avtaledekning)"
LOYALTY = "Agreement loyalty (avtalelojalitet)"
OFF_AGREEMENT = "Off-agreement spend (kjøp utenfor avtale)"
SHARED_COVERAGE = "Shared coverage (fellesavtaler)"
SHARED_LOYALTY = "Shared loyalty (fellesavtaler)"


def run(script: Path) -> AppTest:
    app = AppTest.from_file(str(script), default_timeout=60).run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The first st.dataframe that has `column` (its raw values, not the display text)."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def captions(app: AppTest) -> str:
    return "\n".join(caption.value for caption in app.caption)


def test_headline_metrics_default_to_the_latest_year(snapshot_path: Path) -> None:
    app = run(OVERVIEW)

    assert app.selectbox(key="overview_year").value == 2024
    assert metrics(app) == {
        INFLUENCEABLE: "1 400 000 NOK",
        COVERAGE: "75.0 %",
        LOYALTY: "77.1 %",
        OFF_AGREEMENT: "240 000 NOK",
        SHARED_COVERAGE: "42.9 %",
        SHARED_LOYALTY: "85.0 %",
    }
    by_label = {metric.label: metric for metric in app.metric}
    assert by_label[LOYALTY].delta == "-2.9 pp"  # 77.1 % against the 80 % target
    assert not by_label[COVERAGE].delta  # the fixture's coverage target is NULL
    assert "Loyalty target (mål for avtalelojalitet): 80.0 %" in captions(app)
    assert "Coverage target (mål for avtaledekning): not set" in captions(app)
    assert "Data published 2025-01-31 14:05" in captions(app)


def test_changing_the_year_changes_the_metrics(snapshot_path: Path) -> None:
    app = run(OVERVIEW)

    app.selectbox(key="overview_year").set_value(2023).run()

    assert not app.exception
    assert metrics(app) == {
        INFLUENCEABLE: "1 230 000 NOK",
        COVERAGE: "56.9 %",
        LOYALTY: "80.0 %",
        OFF_AGREEMENT: "140 000 NOK",
        SHARED_COVERAGE: "0.0 %",  # defined: nothing covered by shared agreements
        SHARED_LOYALTY: "n/a",  # undefined: shared covered spend is 0
    }
    assert app.subheader[0].value.endswith("2023")


def test_undefined_member_ratios_are_named_not_drawn_as_zero(snapshot_path: Path) -> None:
    app = run(OVERVIEW)
    app.selectbox(key="overview_year").set_value(2023).run()

    # Tydal has no covered spend in 2023: coverage is 0 %, loyalty undefined.
    assert "Tydal: loyalty" in captions(app)
    assert "Tydal: coverage" not in captions(app)
    figures = table_with(app, "Member").set_index("Member")
    assert figures.loc["Tydal", "Coverage"] == 0
    assert figures.loc["Tydal", "Loyalty"] != figures.loc["Tydal", "Loyalty"]  # NaN
    assert list(figures.index) == ["Whole cooperation", "Stjørdal (host)", "Selbu", "Tydal"]


def test_every_section_names_its_mart_and_draws_its_charts(snapshot_path: Path) -> None:
    app = run(OVERVIEW)

    text = captions(app)
    for mart in (
        "marts.municipality_kpis",
        "marts.cooperation",
        "marts.kpis_by_period",
        "marts.off_agreement_suppliers",
    ):
        assert f"`{mart}`" in text
    assert "on-agreement spend / covered spend" in text
    assert "covered spend / influenceable spend" in text
    assert len(app.get("vega_lite_chart")) == 4  # per member x2, by quarter x2


def test_off_agreement_suppliers_top_15_and_per_member(snapshot_path: Path) -> None:
    app = run(OVERVIEW)

    table = table_with(app, "Supplier")
    assert len(table) == 15
    assert table["Supplier"].iloc[0] == "Leverandør 01 AS"
    assert table["Off-agreement spend"].iloc[0] == 43000  # 18 000 Stjørdal + 25 000 Selbu
    assert table["Off-agreement spend"].is_monotonic_decreasing
    kiosk = table[table["Supplier"] == "Kiosken på hjørnet"]
    assert kiosk["Organisation number"].tolist() == ["–"]

    app.selectbox(key="overview_supplier_member").set_value("5032").run()

    table = table_with(app, "Supplier")
    assert table["Supplier"].tolist() == ["Leverandør 01 AS", "Kiosken på hjørnet"]
    assert "Kreditnota AS" not in table["Supplier"].tolist()  # net negative: not listed
    assert "37 000 NOK of 80 000 NOK off-agreement spend" in captions(app)


def test_the_app_routes_to_the_overview(snapshot_path: Path) -> None:
    app = run(APP)

    assert metrics(app)[COVERAGE] == "75.0 %"
    sidebar = [caption.value for caption in app.sidebar.caption]
    assert any(value.startswith("Data published 2025-01-31 14:05") for value in sidebar)


@pytest.mark.parametrize("script", [OVERVIEW, APP], ids=["page", "app"])
def test_unset_snapshot_variable_explains_what_to_run(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SAMKJOP_SNAPSHOT", raising=False)

    app = run(script)

    assert "SAMKJOP_SNAPSHOT" in app.error[0].value
    assert "samkjop run --config cooperation.yml" in app.info[0].value
    assert not app.metric


def test_snapshot_not_published_yet_explains_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "published" / "snapshot.duckdb"
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(missing))

    app = run(APP)

    assert str(missing) in app.error[0].value
    assert "samkjop run --config cooperation.yml" in app.info[0].value
    assert not app.metric


def test_snapshot_without_the_marts_names_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "snapshot.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(empty))

    app = run(APP)

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

    app = run(OVERVIEW)

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

    app = run(OVERVIEW)

    assert app.selectbox(key="overview_year").value == 2023
    assert not app.warning
    app.selectbox(key="overview_year").set_value(2024).run()
    assert (
        "2024 is a partial year: 3 of 3 members have spend in it, 2 all 12 months"
        in app.warning[0].value
    )
