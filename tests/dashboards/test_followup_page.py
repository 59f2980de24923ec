"""AppTest of the follow-up page (oppfølging), alone and routed by streamlit_app.py.

Expected values come from FOLLOWUP_SQL in conftest.py, whose comments give the
figures: e.g. in 2024 for all members 100 000 crossed 3 times, 85 800.25 off
agreement with 3 suppliers, A-02 and A-01 expiring within 6 months of 2024-12-20,
85 paid above the agreed price, 3 possible duplicate pairs, 3 payees not paired.
Most tests read the page in English; test_the_page_in_norwegian_and_danish reads it in
bokmål and Danish (headings, locale-formatted figures, no English or mart name left).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from stdnum.no import fodselsnummer as stdnum_fodselsnummer
from streamlit.testing.v1 import AppTest

from tests.dashboards.pages import (
    all_text,
    captions_outside_expanders,
    open_page,
    plain,
    table_with,
)
from tests.dashboards.pages import metrics as page_metrics

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
APP = DASHBOARDS / "streamlit_app.py"
FOLLOWUP = DASHBOARDS / "app_pages" / "followup.py"
OVERVIEW = DASHBOARDS / "app_pages" / "overview.py"

MARTS = (
    "marts.threshold_flags",
    "marts.off_agreement_purchases",
    "marts.agreement_followup",
    "marts.price_deviations",
    "marts.possible_duplicate_invoices",
    "marts.possible_duplicate_payees",
)
EXPIRING = "Expiring within 6 months of 20 Dec 2024"


def run(script: Path) -> AppTest:
    app = AppTest.from_file(str(script), default_timeout=60)
    app.query_params["lang"] = "en"  # the page in nb and da: test_the_page_in_norwegian_and_danish
    app.run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def rerun(app: AppTest) -> AppTest:
    app.run()
    assert not app.exception, [error.value for error in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {plain(metric.label): plain(metric.value) for metric in app.metric}


# Each section's table, known by a column only it has (AppTest does not expose the key).
TABLE_COLUMNS = {
    "followup_threshold_crossings": "Trailing 12 months",
    "followup_off_agreement_purchases": "Agreements to use",
    "followup_expiring_agreements": "Days to expiry",
    "followup_price_deviations": "Invoiced unit price",
    "followup_possible_duplicate_invoices": "Second invoice",
    "followup_possible_duplicate_payees": "Not paired because",
}


def table(app: AppTest, key: str) -> pd.DataFrame:
    """The raw values of a section's st.dataframe (not its display text)."""
    return next(frame.value for frame in app.dataframe if TABLE_COLUMNS[key] in frame.value.columns)


def has_table(app: AppTest, key: str) -> bool:
    return any(TABLE_COLUMNS[key] in frame.value.columns for frame in app.dataframe)


def captions(app: AppTest) -> str:
    return "\n".join(caption.value for caption in app.caption)


def infos(app: AppTest) -> list[str]:
    return [info.value for info in app.info]


def test_all_members_latest_year(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    assert app.selectbox(key="followup_member").value == "ALL"
    assert app.selectbox(key="followup_year").value == 2024
    assert metrics(app) == {
        "Crossed 100,000 NOK": "3",
        "Crossed 1,300,000 NOK": "1",
        "Crossed 2,300,000 NOK": "0",
        "Off-agreement spend": "85,800 NOK",
        "Suppliers outside agreements": "3",
        EXPIRING: "2",
        "Lines above the agreed price": "3",
        "Paid above the agreed price": "85 NOK",
        "Lines below the agreed price": "1",
        "Same amount within 7 days under another invoice id": "2",
        "Same invoice id delivered twice": "1",
    }
    assert not app.warning and not app.error


def test_tables_show_the_marts_rows_in_order(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    crossings = table(app, "followup_threshold_crossings")
    assert [str(day)[:10] for day in crossings["Month end"]] == [
        "2024-11-30",
        "2024-09-30",
        "2024-06-30",
        "2024-03-31",
    ]
    assert crossings["Threshold"].tolist() == [1300000, 100000, 100000, 100000]
    assert crossings["Member"].tolist() == ["Stjørdal", "Stjørdal", "Selbu", "Stjørdal"]
    assert crossings["Agreement for category"].tolist() == [False, False, True, True]
    assert crossings["Trailing 12 months"].iloc[0] == 1350000

    purchases = table(app, "followup_off_agreement_purchases")
    assert purchases["Off-agreement spend"].tolist() == [56000.25, 23000, 8000, -1200]
    first = purchases.iloc[0]
    assert (first["Member"], first["Department"], first["Supplier"]) == (
        "Stjørdal",
        "1200",
        "Kontorkjeden AS",
    )
    assert first["Agreements to use"] == "A-01: Kontorrekvisita"
    assert first["Their suppliers"] == "Kontor AS (911111111)"
    assert purchases["Organisation number"].iloc[2] == "–"  # name-keyed supplier
    assert purchases["Department"].iloc[2] == "–"  # the source had none
    assert purchases["Category"].iloc[2] == "Mat og drikke"
    assert purchases["Invoices"].tolist() == [9, 2, 3, 1]

    expiring = table(app, "followup_expiring_agreements")
    assert expiring["Agreement"].tolist() == ["A-02", "A-01"]  # soonest first
    assert expiring["Days to expiry"].tolist() == [11, 101]
    assert expiring["Covered spend, 12 months"].tolist() == [80000, 400000]  # 'ALL' rows
    assert expiring["On-agreement spend, 12 months"].tolist() == [72000, 330000]
    assert expiring["Estimated annual volume"].iloc[1] == 500000
    assert expiring["Estimated annual volume"].isna().iloc[0]

    prices = table(app, "followup_price_deviations")
    assert prices["Invoice"].tolist() == ["F-1001", "S-77", "F-1002", "S-78"]
    assert [plain(price) for price in prices["Invoiced unit price"]] == [
        "55.00 NOK",
        "4.50 €",
        "1,200.00 NOK",
        "8.00 NOK",
    ]
    assert plain(prices["Agreed unit price"].iloc[1]) == "50.00 NOK"
    assert prices["Deviation"].tolist() == pytest.approx([0.1, 0.035, 0.2, -0.2])
    assert prices["Excess paid"].iloc[0] == 50
    assert prices["Excess paid"].isna().iloc[2]  # no quantity: no excess, shown as n/a
    assert prices["Source"].iloc[0] == "stjordal_2024.csv, row 14"

    pairs = table(app, "followup_possible_duplicate_invoices")
    assert pairs["First invoice"].tolist() == ["B-1", "F-2001", "K-17"]  # largest first
    assert pairs["Second invoice"].tolist() == ["B-2", "F-2001", "K-18"]
    assert pairs["First amount"].tolist() == [45000, 12500, 799]
    assert pairs["Second delivered in"].iloc[1] == "stjordal_feb.csv, row 4"
    assert pairs["Same delivery"].tolist() == [False, False, True]

    payees = table(app, "followup_possible_duplicate_payees")
    assert payees["Payee"].tolist() == [  # largest first
        "Kantina AS",
        "VISA NORGE",
        "No supplier (no name or identity)",
    ]
    assert payees["Not paired because"].tolist() == [
        "more than 50 possible pairs",
        "catch-all payee (pattern ^visa)",
        "no supplier identity",
    ]
    assert payees["Member"].tolist() == ["Stjørdal", "Selbu", "Stjørdal"]
    assert payees["Possible pairs"].tolist() == [75, 61, 0]
    assert payees["Invoices"].iloc[0] == 420


def test_member_filter_narrows_every_section(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    app.selectbox(key="followup_member").set_value("5032")
    rerun(app)

    assert metrics(app) == {
        "Crossed 100,000 NOK": "1",
        "Crossed 1,300,000 NOK": "0",
        "Crossed 2,300,000 NOK": "0",
        "Off-agreement spend": "21,800 NOK",
        "Suppliers outside agreements": "2",
        EXPIRING: "1",
        "Lines above the agreed price": "1",
        "Paid above the agreed price": "35 NOK",
        "Lines below the agreed price": "1",
        "Same amount within 7 days under another invoice id": "1",
    }
    crossings = table(app, "followup_threshold_crossings")
    assert crossings["Supplier"].tolist() == ["Bygg AS"]
    assert "Member" not in crossings.columns  # one member: no member column
    expiring = table(app, "followup_expiring_agreements")
    assert expiring["Agreement"].tolist() == ["A-01"]
    assert expiring["Covered spend, 12 months"].tolist() == [100000]  # Selbu's own row
    assert "Estimated annual volume" not in expiring.columns  # whole-agreement figure
    assert table(app, "followup_price_deviations")["Invoice"].tolist() == ["S-77", "S-78"]
    assert table(app, "followup_possible_duplicate_invoices")["First invoice"].tolist() == ["B-1"]
    assert table(app, "followup_possible_duplicate_payees")["Payee"].tolist() == ["VISA NORGE"]


def test_member_without_rows_says_so(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    app.selectbox(key="followup_member").set_value("5033")
    rerun(app)

    assert metrics(app)["Crossed 100,000 NOK"] == "0"
    assert metrics(app)[EXPIRING] == "0"  # A-04 already expired, A-03 ends in 2026
    assert infos(app) == [
        "No threshold crossed by Tydal in 2024.",
        "No purchases outside agreements by Tydal in 2024.",
        "No agreement of Tydal expires within 6 months of 20 Dec 2024.",
        "No invoice line of Tydal in 2024 deviates from its agreed price.",
        "No possible duplicate invoices for Tydal in 2024.",
        "Every payee of Tydal in 2024 was checked for duplicate invoices.",
    ]
    assert not app.dataframe


def test_year_filter_changes_the_rows(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    app.selectbox(key="followup_year").set_value(2023)
    rerun(app)

    shown = metrics(app)
    assert (
        shown["Crossed 100,000 NOK"],
        shown["Crossed 1,300,000 NOK"],
        shown["Crossed 2,300,000 NOK"],
    ) == ("2", "1", "1")
    assert shown["Off-agreement spend"] == "41,000 NOK"
    assert shown["Paid above the agreed price"] == "25 NOK"
    assert table(app, "followup_price_deviations")["Invoice"].tolist() == ["F-900"]
    assert table(app, "followup_possible_duplicate_invoices")["First invoice"].tolist() == ["T-5"]
    assert table(app, "followup_possible_duplicate_payees")["Not paired because"].tolist() == [
        "no supplier identity"
    ]
    # expiry is measured from the as-of date, not the year: unchanged
    assert table(app, "followup_expiring_agreements")["Agreement"].tolist() == ["A-02", "A-01"]
    assert app.subheader[0].value.endswith("2023")


def test_every_section_names_its_mart(snapshot_path: Path) -> None:
    app = run(FOLLOWUP)

    text = captions(app)
    for mart in MARTS:
        assert f"`{mart}`" in text
    assert "Data published 31 Jan 2025 14:05" in text.replace("\u00a0", " ")


def test_the_app_routes_to_the_followup_page(snapshot_path: Path) -> None:
    app = run(APP)
    app.switch_page("app_pages/followup.py")
    rerun(app)

    assert metrics(app)["Crossed 100,000 NOK"] == "3"
    assert app.title[0].value == "Testregionen Innkjøp: follow-up"


@pytest.mark.parametrize("mart", MARTS)
def test_snapshot_without_a_mart_names_it_and_shows_the_rest(
    mart: str, snapshot_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, older)
    with duckdb.connect(str(older)) as con:
        con.execute(f"drop table {mart}")
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(older))

    app = run(FOLLOWUP)

    assert len(app.warning) == 1
    assert f"lacks `{mart}`" in app.warning[0].value
    assert "samkjop run --config cooperation.yml" in app.warning[0].value
    assert not app.error
    keys = {
        "marts.threshold_flags": "followup_threshold_crossings",
        "marts.off_agreement_purchases": "followup_off_agreement_purchases",
        "marts.agreement_followup": "followup_expiring_agreements",
        "marts.price_deviations": "followup_price_deviations",
        "marts.possible_duplicate_invoices": "followup_possible_duplicate_invoices",
        "marts.possible_duplicate_payees": "followup_possible_duplicate_payees",
    }
    for other, key in keys.items():
        assert has_table(app, key) == (other != mart)
    # the overview does not read these marts and is still drawn in full
    overview = run(OVERVIEW)
    assert not overview.error and overview.metric


def test_snapshot_lacking_a_column_names_it(
    snapshot_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, older)
    with duckdb.connect(str(older)) as con:
        con.execute("alter table marts.agreement_followup drop column days_to_expiry")
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(older))

    app = run(FOLLOWUP)

    assert [warning.value for warning in app.warning] == [
        "This section reads `marts.agreement_followup`, but the data snapshot "
        "lacks `marts.agreement_followup.days_to_expiry`. It was probably published by an older "
        "version of the pipeline: run `samkjop run --config cooperation.yml` again."
    ]
    assert not has_table(app, "followup_expiring_agreements")
    assert has_table(app, "followup_price_deviations")


def test_snapshot_without_the_core_marts_stops_with_the_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "snapshot.duckdb"
    duckdb.connect(str(empty)).close()
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(empty))

    app = run(FOLLOWUP)

    assert "`marts.municipality_kpis`" in app.error[0].value
    assert "samkjop run --config cooperation.yml" in app.info[0].value
    assert not app.metric and not app.dataframe


# The page in the reader's language: headings from dashboards/locales/<lang>/followup.yaml,
# figures in the locale (Babel: nb '85 800 kr', da '85.800 NOK'; the sample cooperation's
# currency is NOK), dates as '20. des. 2024'.
IN_LANGUAGE = {
    "nb": {
        "title": "Testregionen Innkjøp: oppfølging",
        "subheaders": [
            "Terskelverdier passert, 2024",
            "Kjøp utenfor avtale, 2024",
            "Avtaler som utløper innen 6 måneder",
            "Prisavvik, 2024",
            "Mulig dobbeltfakturering, 2024",
            "Betalingsmottakere ikke kontrollert for dobbeltfakturering, 2024",
        ],
        "metrics": {
            "Passert 100 000 kr": "3",
            "Passert 1 300 000 kr": "1",
            "Kjøp utenfor avtale": "85 800 kr",
            "Utløper innen 6 måneder etter 20. des. 2024": "2",
            "Betalt over avtalt pris": "85 kr",
            "Samme fakturanummer levert to ganger": "1",
        },
        "price_column": "Fakturert enhetspris",
        "prices": ["55,00 kr", "4,50 €", "1 200,00 kr", "8,00 kr"],
        "reason_column": "Ikke kontrollert fordi",
        "reasons": ["mer enn 50 mulige par", "samlemottaker (mønster ^visa)"],
        "source": "stjordal_2024.csv, rad 14",
        "published": "Data publisert 31. jan. 2025 kl. 14:05",
    },
    "da": {
        "title": "Testregionen Innkjøp: opfølgning",
        "subheaders": [
            "Tærskelværdier passeret, 2024",
            "Køb uden for aftale, 2024",
            "Aftaler, der udløber inden for 6 måneder",
            "Prisafvigelser, 2024",
            "Mulig dobbeltfakturering, 2024",
            "Betalingsmodtagere ikke kontrolleret for dobbeltfakturering, 2024",
        ],
        "metrics": {
            "Passeret 100.000 NOK": "3",
            "Passeret 1.300.000 NOK": "1",
            "Køb uden for aftale": "85.800 NOK",
            "Udløber inden for 6 måneder efter 20. dec. 2024": "2",
            "Betalt over aftalt pris": "85 NOK",
            "Samme fakturanummer leveret to gange": "1",
        },
        "price_column": "Faktureret enhedspris",
        "prices": ["55,00 NOK", "4,50 €", "1.200,00 NOK", "8,00 NOK"],
        "reason_column": "Ikke kontrolleret, fordi",
        "reasons": ["mere end 50 mulige par", "samlemodtager (mønster ^visa)"],
        "source": "stjordal_2024.csv, række 14",
        "published": "Data udgivet 31. jan. 2025 kl. 14:05",
    },
}


@pytest.mark.parametrize("language", list(IN_LANGUAGE))
def test_the_page_in_norwegian_and_danish(snapshot_path: Path, language: str) -> None:
    expected = IN_LANGUAGE[language]
    app = open_page("followup", language)

    assert plain(app.title[0].value) == expected["title"]
    assert [plain(s.value) for s in app.subheader] == expected["subheaders"]
    shown = page_metrics(app)
    for label, value in expected["metrics"].items():
        assert shown[label] == value, label
    prices = table_with(app, expected["price_column"])
    assert prices[expected["price_column"]].tolist() == expected["prices"]
    assert expected["source"] in prices.iloc[:, -1].tolist()
    payees = table_with(app, expected["reason_column"])
    assert payees[expected["reason_column"]].tolist()[:2] == expected["reasons"]
    assert expected["published"] in plain(app.caption[0].value)
    # no English left outside the data, no mart name outside the help expanders
    text = all_text(app)
    for english in ("Threshold", "Supplier", "Source", "follow-up", "row 14", "n/a"):
        assert english not in text, english
    assert not [c for c in captions_outside_expanders(app.main) if "marts." in c]
    # the Member page's link keeps its member filter in every language
    filtered = open_page("followup", language, member="5032", year="2024")
    assert filtered.selectbox(key="followup_member").value == "5032"


def synthetic_fodselsnummer() -> str:
    """A fødselsnummer (1 Jan 1990) made valid by python-stdnum's check-digit rules: not a
    real person's number."""
    for individual in range(100, 500):
        base = f"010190{individual:03}"
        number = base + stdnum_fodselsnummer.calc_check_digit1(base + "00")
        number += stdnum_fodselsnummer.calc_check_digit2(number + "0")
        if stdnum_fodselsnummer.is_valid(number):
            return number
    raise AssertionError("no valid synthetic fødselsnummer")


def test_private_persons_are_marked_and_personal_id_numbers_masked(
    snapshot_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fodselsnummer = synthetic_fodselsnummer()
    copy = tmp_path / "snapshot.duckdb"
    shutil.copy(snapshot_file, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute(
            "update marts.off_agreement_purchases set agreement_suppliers = "
            f"'Hansen ({fodselsnummer}), Kontor AS (911111111)' where invoice_count = 9"
        )
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(copy))

    app = run(FOLLOWUP)

    purchases = table(app, "followup_off_agreement_purchases")
    assert purchases["Their suppliers"].iloc[0] == (
        "Hansen ([personal identity number]), Kontor AS (911111111)"
    )
    assert fodselsnummer not in all_text(app)
    crossings = table(app, "followup_threshold_crossings")
    marked = dict(zip(crossings["Supplier"], crossings["Private person"], strict=True))
    assert marked["Rørlegger Hansen"] and not marked["Bygg AS"]  # dashboards.privacy's rule
    assert "Private person" in table(app, "followup_possible_duplicate_payees").columns
