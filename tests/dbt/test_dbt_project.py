"""Builds the dbt project (`dbt build`: models, unit tests and data tests) against a
small, realistic warehouse in tmp_path and checks a few numbers of the marts.

The metric rules themselves are pinned by the dbt unit tests in the models' YAML;
this test proves the project builds end to end and that they ran.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipelines.warehouse import create_raw_schema
from tests.dbt.runner import run_dbt

LOADED_AT = datetime(2024, 8, 1, 12, 0, 0)

STJ, SELBU, TYDAL = "5035", "5032", "5033"  # Stjørdal (host), Selbu, Tydal
S1, S2, S3, S4 = "911111111", "922222222", "933333333", "944444444"
S_OFF, S_EXCLUDED = "955555555", "964982953"

# (municipality, delivery, row, invoice_date, supplier_org_no, is_valid, name, art,
#  amount_excl_vat, currency, item_code)
# fmt: off
SPEND_LINES = [
    # Stjørdal: office supplies on the shared agreement (CPV prefix 3019 -> OFFICE)
    (STJ, "D1", 2, date(2024, 3, 1), S1, True, "Kontor AS", "120", "1000", "NOK", "30192000-1"),
    # ... from a supplier outside the agreement: covered, off-agreement
    (STJ, "D1", 3, date(2024, 3, 2), S_OFF, True, "Butikken  AS", "120", "500", "NOK", "30197600"),
    # credit note on the agreement: counts as it is
    (STJ, "D1", 4, date(2024, 3, 5), S1, True, "Kontor AS", "120", "-200", "NOK", "30192000"),
    # payroll: not influenceable
    (STJ, "D1", 5, date(2024, 3, 5), None, False, "Lønn", "010", "10000", "NOK", None),
    # unknown art
    (STJ, "D1", 6, date(2024, 3, 6), S1, True, "Kontor AS", None, "300", "NOK", None),
    # excluded supplier (another municipality): not influenceable
    (STJ, "D1", 7, date(2024, 3, 7), S_EXCLUDED, True, "Nabokommunen", "120", "700", "NOK", None),
    # invalid organisation number: covered but never on-agreement
    (STJ, "D1", 8, date(2024, 3, 8), None, False, "Kontor AS", "120", "250", "NOK", "3019"),
    # the day after the shared agreement ended: not covered
    (STJ, "D1", 9, date(2024, 7, 1), S1, True, "Kontor AS", "120", "600", "NOK", "30192000"),
    # food by supplier rule, national agreement for Stjørdal only
    (STJ, "D1", 10, date(2024, 4, 2), S4, True, "Mat AS", "230", "800", "NOK", None),
    # unclassified line from a supplier that holds an agreement: supplier loyalty
    (STJ, "D1", 11, date(2024, 3, 9), S1, True, "Kontor AS", "270", "150", "NOK", None),
    # Selbu: office by art rule; covered by the shared ('*') and its local agreement
    (SELBU, "D2", 2, date(2024, 2, 1), S3, True, "Lokal Kontor AS", "120", "400", "NOK", None),
    # Selbu buys food: national agreement is Stjørdal's only -> not covered
    (SELBU, "D2", 3, date(2024, 2, 2), S4, True, "Mat AS", "230", "90", "NOK", None),
    # Tydal: a PC in EUR; longest prefix 30213 (IT-PC) beats 302 (IT)
    (TYDAL, "D3", 2, date(2024, 1, 15), S2, True, "PC Norge AS", "120", "100", "EUR", "30213100"),
    # Tydal: EUR with no rate for 2024-02 -> rejected
    (TYDAL, "D3", 3, date(2024, 2, 10), S2, True, "PC Norge AS", "120", "50", "EUR", "30213100"),
    # Tydal, no organisation numbers: the supplier register (SUPPLIER_REGISTER) finds
    # Kontor AS (S1, on A1) by its name alias, the card shop (on A1 by its register id)
    # by Tydal's own vendor number and by a name pattern, and the inter-municipal
    # company (excluded by its register id) by name
    (TYDAL, "D3", 4, date(2024, 3, 10), None, False, "KONTORHUSET LTD", "120", "300", "NOK", "3019"),
    (TYDAL, "D3", 5, date(2024, 2, 3), None, False, "Butikk 77", "120", "70", "NOK", None),
    (TYDAL, "D3", 6, date(2024, 3, 11), None, False, "KORTSHOP OSLO", "120", "20", "NOK", None),
    (TYDAL, "D3", 7, date(2024, 3, 12), None, False, "Innherred IKS", "120", "500", "NOK", None),
]
LOCAL_SUPPLIER_IDS = {("D3", 5): "V-77"}
# (supplier_id, supplier_name, org_no, alias_type, alias, municipality_id)
SUPPLIER_REGISTER = [
    ("S-KONTOR", "Kontor AS", S1, "name", "Kontorhuset Limited", None),
    ("S-KORT", "Kortshop", None, "local_id", "V-77", TYDAL),
    ("S-KORT", "Kortshop", None, "name_pattern", "^kort ?shop", None),
    ("S-IKS", "Innherred IKS", None, "name", "INNHERRED  IKS", None),
]
# fmt: on


OVERRIDES = ["taxonomy", "classification_rules", "kostra_arts", "emission_factors"]


def _seed(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        create_raw_schema(con)
        ins = con.executemany
        ins(
            "insert into raw.municipalities values (?, ?, ?, ?)",
            [
                (STJ, "Stjørdal", 24050, True),
                (SELBU, "Selbu", 4096, False),
                (TYDAL, "Tydal", 807, False),
            ],
        )
        con.execute(
            "insert into raw.cooperation values "
            "('Værnesregionen Innkjøp', 'NO', 'NOK', '5035', 0.8, 0.7)"
        )
        ins(
            "insert into raw.taxonomy values (?, ?, ?)",
            [
                ("OFFICE", "Kontorrekvisita", None),
                ("IT", "IT-utstyr", None),
                ("IT-PC", "PC-er", "IT"),
                ("FOOD", "Matvarer", None),
            ],
        )
        ins(
            "insert into raw.classification_rules values (?, ?, ?)",
            [
                ("item_code", "3019", "OFFICE"),
                ("item_code", "302", "IT"),
                ("item_code", "30213", "IT-PC"),
                ("supplier", S4, "FOOD"),
                ("art", "120", "OFFICE"),
                ("art", "230", "OFFICE"),  # the supplier rule for S4 wins
            ],
        )
        ins(
            "insert into raw.kostra_arts values (?, ?, ?)",
            [
                ("010", "Fastlønn", False),
                ("120", "Annet forbruksmateriell", True),
                ("230", "Vedlikehold", True),
                ("270", "Konsulenttjenester", True),
            ],
        )
        ins(
            "insert into raw.emission_factors values (?, ?, ?, ?, ?)",
            [
                ("OFFICE", Decimal("0.03"), "NOK", "fixture factor", True),
                ("IT", Decimal("0.05"), "NOK", "fixture group factor", False),
            ],
        )
        con.execute(
            f"insert into raw.excluded_suppliers values ('{S_EXCLUDED}', '{S_EXCLUDED}', 'kommune')"
        )
        con.execute("insert into raw.excluded_suppliers values ('S-IKS', null, 'IKS')")
        ins(
            "insert into raw.supplier_register values "
            "(?, ?, ?, ?, ?, ?, ?, ?, 'leverandorer.csv', ?, false)",
            [
                (sid, name, org, org, org is not None, kind, alias, member, row)
                for row, (sid, name, org, kind, alias, member) in enumerate(SUPPLIER_REGISTER, 1)
            ],
        )
        con.execute("insert into raw.exchange_rates values ('EUR', '2024-01', 11.5)")
        ins(
            "insert into raw.agreements values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "A1",
                    "Kontor og PC",
                    "cooperation",
                    date(2024, 1, 1),
                    date(2024, 6, 30),
                    None,
                    "avtaler.xlsx",
                    2,
                    Decimal("10000"),  # estimated_annual_volume
                ),
                (
                    "A2",
                    "Selbu kontor",
                    "local",
                    date(2024, 1, 1),
                    date(2024, 12, 31),
                    None,
                    "avtaler.xlsx",
                    3,
                    None,
                ),
                (
                    "A3",
                    "Mat (SKI)",
                    "national",
                    date(2023, 1, 1),
                    date(2025, 12, 31),
                    Decimal("0.0225"),
                    "avtaler.xlsx",
                    4,
                    None,
                ),
            ],
        )
        ins(
            "insert into raw.agreement_categories values (?, ?)",
            [("A1", "OFFICE"), ("A1", "IT-PC"), ("A2", "OFFICE"), ("A3", "FOOD")],
        )
        ins(
            "insert into raw.agreement_suppliers values (?, ?, ?, ?)",
            [
                ("A1", S1, S1, True),
                ("A1", S2, S2, True),
                ("A2", S3, S3, True),
                ("A3", S4, S4, True),
                ("A3", "NO 123 MVA", None, False),
                ("A1", "S-KORT", None, False),  # a supplier register id
            ],
        )
        ins(
            "insert into raw.agreement_participants values (?, ?)",
            [("A1", "*"), ("A2", SELBU), ("A3", STJ)],
        )
        rows = []
        for m, d, r, dt, org, valid, name, art, amount, cur, item in SPEND_LINES:
            rows.append(
                (
                    d,
                    m,
                    f"INV-{d}-{r}",
                    "1",
                    dt,
                    org or "123",
                    org,
                    "NO",
                    valid,
                    name,
                    f"1{art or '000'}00",
                    art,
                    Decimal(amount),
                    cur,
                    item,
                    "CPV" if item else None,
                    "line",
                    None,
                    None,
                    f"{d}.csv",
                    r,
                    "sha-" + d,
                    LOADED_AT,
                    None,  # department
                    None,  # seller_item_id
                    None,  # quantity
                    None,  # unit_price
                    LOCAL_SUPPLIER_IDS.get((d, r)),  # local_supplier_id
                    int(d.removeprefix("D")) * 2**32 + r,  # spend_line_key: delivery no. D<n>
                    r + 1,  # source_line: the header is line 1
                )
            )
        ins(
            "insert into raw.spend_lines values (" + ", ".join(["?"] * len(rows[0])) + ")",
            rows,
        )
        # price control: D1 row 2 (Kontor AS on A1, 1000 NOK) is 10 x K-100 at 100; agreed 90
        con.execute(
            "update raw.spend_lines set seller_item_id = 'K-100', quantity = 10, "
            "unit_price = 100 where delivery_id = 'D1' and source_row = 2"
        )
        con.execute(
            "insert into raw.price_list values ('A1', ?, ?, 'K-100', 90, 'NOK', "
            "'2024-01-01', '2024-06-30', 'priser.csv', 2)",
            [S1, S1],
        )
        con.execute(
            "insert into raw.rejected_rows values "
            "('D1', '5035', 'D1.csv', 12, 'invalid invoice date: 2024-13-01', "
            "'INV-12;2024-13-01;99', ?, 13)",  # source_line 13: after the header
            [LOADED_AT],
        )
        counts = {"D1": (10, 1), "D2": (2, 0), "D3": (6, 0)}
        for d, m in (("D1", STJ), ("D2", SELBU), ("D3", TYDAL)):
            loaded, rejected = counts[d]
            con.execute(
                "insert into raw.deliveries values "
                "(?, ?, ?, ?, 'visma_csv', ?, ?, ?, null, null, null, 'loaded', null, ?, "
                "null, null, 0)",
                [d, m, f"{d}.csv", "sha-" + d, loaded + rejected, loaded, rejected, LOADED_AT],
            )
    finally:
        con.close()


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp_path = tmp_path_factory.mktemp("dbt")
    warehouse = tmp_path / "warehouse.duckdb"
    _seed(warehouse)
    # the fixture's own taxonomy, rules, arts and factors are in raw: dbt reads them, not the seeds
    result = run_dbt(
        ["build", "--vars", json.dumps({"reference_overrides": OVERRIDES})], warehouse, tmp_path
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    run_results = json.loads((tmp_path / "dbt_target" / "run_results.json").read_text())
    return warehouse, run_results


def _query(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.xdist_group("dbt")
def test_build_ran_unit_and_data_tests(built: tuple[Path, dict]) -> None:
    _, run_results = built
    by_type: dict[str, list[str]] = {}
    for result in run_results["results"]:
        kind = result["unique_id"].split(".")[0]
        by_type.setdefault(kind, []).append(result["status"])
    assert len(by_type.get("unit_test", [])) >= 15
    assert set(by_type["unit_test"]) == {"pass"}
    assert set(by_type["model"]) == {"success"}
    assert set(by_type["test"]) <= {"pass", "warn"}


@pytest.mark.xdist_group("dbt")
def test_fct_spend_lines(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = dict(
        _query(
            warehouse,
            "select spend_line_id, (category_id, classification_rule_type, is_covered,"
            " is_on_agreement, amount) from marts.fct_spend_lines",
        )
    )
    assert len(rows) == len(SPEND_LINES) - 1  # one EUR line has no rate
    assert rows["D3-2"] == ("IT-PC", "item_code", True, True, Decimal("1150.0000"))
    assert rows["D1-8"] == ("OFFICE", "item_code", True, False, Decimal("250.0000"))
    assert rows["D1-9"] == ("OFFICE", "item_code", False, False, Decimal("600.0000"))
    assert rows["D2-2"] == ("OFFICE", "art", True, True, Decimal("400.0000"))
    assert rows["D1-10"] == ("FOOD", "supplier", True, True, Decimal("800.0000"))
    assert rows["D1-5"] == (None, None, False, False, Decimal("10000.0000"))


@pytest.mark.xdist_group("dbt")
def test_kpis(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    kpis = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select municipality_id, total_spend, influenceable_spend, covered_spend,"
            " on_agreement_spend, coverage, loyalty, supplier_loyalty"
            " from marts.municipality_kpis where year = 2024",
        )
    }
    # Stjørdal: influenceable 1000 + 500 - 200 + 250 + 600 + 800 + 150 = 3100;
    # covered 1000 + 500 - 200 + 250 + 800 = 2350; on-agreement 1000 - 200 + 800 = 1600
    total, influenceable, covered, on_agreement, coverage, loyalty, supplier_loyalty = kpis[STJ]
    assert total == Decimal("14100.0000")
    assert (influenceable, covered, on_agreement) == (
        Decimal("3100.0000"),
        Decimal("2350.0000"),
        Decimal("1600.0000"),
    )
    assert coverage == pytest.approx(2350 / 3100)
    assert loyalty == pytest.approx(1600 / 2350)
    # S1 lines while A1 runs (1000 - 200 + 150) plus S4 (800)
    assert supplier_loyalty == pytest.approx(1750 / 3100)
    # the cooperation's ratio is computed from summed amounts
    _, all_influenceable, all_covered, *_ = kpis["ALL"]
    assert kpis["ALL"][4] == pytest.approx(float(all_covered) / float(all_influenceable))


@pytest.mark.xdist_group("dbt")
def test_reconciliation_and_rejections(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    recon = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select delivery_id, rows_read, rows_loaded, rows_rejected, amount_loaded"
            " from marts.delivery_reconciliation",
        )
    }
    assert recon["D3"] == (6, 5, 1, Decimal("2040.0000"))  # 1150 + 300 + 70 + 20 + 500
    assert recon["D1"][:3] == (11, 10, 1)
    reasons = sorted(r[0] for r in _query(warehouse, "select reason from marts.rejected_rows"))
    assert reasons == ["invalid invoice date: 2024-13-01", "no exchange rate for EUR 2024-02"]


@pytest.mark.xdist_group("dbt")
def test_seeds_are_built_and_overrides_read_from_raw(built: tuple[Path, dict]) -> None:
    warehouse, run_results = built
    seeds = {
        r["unique_id"].split(".")[-1]: r["status"]
        for r in run_results["results"]
        if r["unique_id"].startswith("seed.")
    }
    assert seeds == dict.fromkeys(OVERRIDES, "success")
    # '010' keeps its zero in the seed; the staging views read the fixture's raw tables
    assert ("010", "Fastlønn", False) in _query(warehouse, "select * from reference.kostra_arts")
    assert _query(warehouse, "select count(*) from staging.stg_raw__kostra_arts") == [(4,)]
    assert _query(warehouse, "select count(*) from staging.stg_raw__categories") == [(4,)]


@pytest.mark.xdist_group("dbt")
def test_classification_coverage(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select municipality_id, influenceable_spend, item_code_spend, supplier_spend,"
            " art_spend, unclassified_spend, classified_share, influenceable_line_count"
            " from marts.classification_coverage where year = 2024",
        )
    }
    # Stjørdal: item codes 1000 + 500 - 200 + 250 + 600, supplier rule 800, art 270 unclassified
    assert rows[STJ][:5] == tuple(
        Decimal(v) for v in ("3100.0000", "2150.0000", "800.0000", "0.0000", "150.0000")
    )
    assert rows[STJ][5] == pytest.approx(2950 / 3100)
    assert rows[STJ][6] == 7
    assert rows[SELBU][:5] == tuple(
        Decimal(v) for v in ("490.0000", "0.0000", "90.0000", "400.0000", "0.0000")
    )
    # Tydal: the PC (1150) and the register's lines by item code (300) and art (70 + 20)
    assert rows["ALL"][5] == pytest.approx((2950 + 490 + 1540) / (3100 + 490 + 1540))


@pytest.mark.xdist_group("dbt")
def test_climate_estimate(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = {
        (row[0], row[1]): row[2:]
        for row in _query(
            warehouse,
            "select municipality_id, category_id, influenceable_spend, factor_category_id,"
            " estimated_kg_co2e, is_illustrative, spend_without_factor"
            " from marts.climate_estimate where year = 2024",
        )
    }
    assert rows[STJ, "OFFICE"] == (
        Decimal("2150.0000"),
        "OFFICE",
        Decimal("64.5000"),
        True,
        Decimal("0.0000"),
    )
    # IT-PC has no factor of its own: its group IT's applies
    assert rows[TYDAL, "IT-PC"] == (
        Decimal("1150.0000"),
        "IT",
        Decimal("57.5000"),
        False,
        Decimal("0.0000"),
    )
    assert rows[STJ, "FOOD"] == (Decimal("800.0000"), None, None, None, Decimal("800.0000"))


@pytest.mark.xdist_group("dbt")
def test_per_capita(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select municipality_id, population, total_spend_per_inhabitant,"
            " off_agreement_spend_per_inhabitant from marts.per_capita where year = 2024",
        )
    }
    assert rows[STJ] == (24050, Decimal("0.5863"), Decimal("0.0312"))  # 14100, 750 / 24050
    assert rows["ALL"][0] == 24050 + 4096 + 807


@pytest.mark.xdist_group("dbt")
def test_price_deviations(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = _query(
        warehouse,
        "select spend_line_id, agreement_id, item_id, direction, deviation, excess_amount"
        " from marts.price_deviations",
    )
    # (100 - 90) / 90 above the agreed price, 10 x 10 NOK paid too much
    assert rows == [("D1-2", "A1", "K-100", "above", Decimal("0.111111"), Decimal("100.0000"))]


@pytest.mark.xdist_group("dbt")
def test_agreement_followup(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = {
        (row[0], row[1]): row[2:]
        for row in _query(
            warehouse,
            "select agreement_id, municipality_id, covered_spend, on_agreement_spend,"
            " utilisation, provision_amount, days_to_expiry, is_expiring_within_6_months"
            " from marts.agreement_followup where year = 2024",
        )
    }
    # A1 ('*', OFFICE and IT-PC, 2024-01-01..2024-06-30): Stjørdal's office lines
    # 1000 + 500 - 200 + 250 are covered, Kontor AS's 1000 - 200 are on it; Selbu's 400
    # from A2's supplier is covered by A1 but not on it
    assert rows[("A1", STJ)][:2] == (Decimal("1550.0000"), Decimal("800.0000"))
    assert rows[("A1", SELBU)][:2] == (Decimal("400.0000"), Decimal("0.0000"))
    # ALL adds Tydal's PC (1150) and its three lines the supplier register puts on A1
    # (300 + 70 + 20): 2340 on-agreement of the estimated 10 000 a year
    covered, on_agreement, utilisation, *_ = rows[("A1", "ALL")]
    assert (covered, on_agreement) == (Decimal("3490.0000"), Decimal("2340.0000"))
    assert utilisation == pytest.approx(0.234)
    assert rows[("A1", STJ)][2] is None  # utilisation is for the whole agreement only
    assert rows[("A3", STJ)][3] == Decimal("18.0000")  # 2.25 % provision on 800
    # as of the last invoice date, 2024-07-01: A1 ended the day before, A2 ends on 31 Dec
    assert rows[("A1", "ALL")][4:] == (-1, False)
    assert rows[("A2", "ALL")][4:] == (183, True)


@pytest.mark.xdist_group("dbt")
def test_possible_duplicate_invoices(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    # every fixture invoice id is delivered once and no two share supplier, amount and week;
    # the pairing rules themselves are pinned by the model's unit tests
    assert _query(warehouse, "select count(*) from marts.possible_duplicate_invoices") == [(0,)]


@pytest.mark.xdist_group("dbt")
def test_supplier_register_identifies_lines_without_a_number(built: tuple[Path, dict]) -> None:
    warehouse, _ = built
    rows = dict(
        _query(
            warehouse,
            "select spend_line_id, (supplier_key, supplier_identified_by, is_influenceable,"
            " is_covered, is_on_agreement, has_supplier_agreement)"
            " from marts.fct_spend_lines where spend_line_id in"
            " ('D1-8', 'D3-4', 'D3-5', 'D3-6', 'D3-7')",
        )
    )
    assert rows == {
        # no number, a name the register does not know: covered, never on-agreement
        "D1-8": ("name:kontor", None, True, True, False, False),
        # the register's name alias of Kontor AS: its organisation number, on A1
        "D3-4": (S1, "name", True, True, True, True),
        # Tydal's own vendor number, and a name pattern: the card shop A1 names by its id
        "D3-5": ("register:S-KORT", "local_id", True, True, True, True),
        "D3-6": ("register:S-KORT", "name_pattern", True, True, True, True),
        # excluded by its register id: not influenceable
        "D3-7": ("register:S-IKS", "name", False, False, False, False),
    }
    suppliers = {
        row[0]: row[1:]
        for row in _query(
            warehouse,
            "select supplier_key, supplier_name, register_supplier_id, holds_agreement,"
            " is_excluded_supplier, on_agreement_spend from marts.suppliers",
        )
    }
    assert suppliers["register:S-KORT"] == ("Kortshop", "S-KORT", True, False, Decimal("90.0000"))
    assert suppliers["register:S-IKS"] == ("Innherred IKS", "S-IKS", False, True, Decimal("0E-4"))
    assert suppliers[S1][:2] == ("Kontor AS", "S-KONTOR")  # the register's name


# Join operators whose cost is the product of their inputs' sizes: a join condition that is
# not an equality (or an equality hidden behind OR / a filter inside the ON clause) makes
# DuckDB compare every row with every row. Cross products are allowed (every one in the
# project joins a small table: the cooperation's single row, the members, a month spine).
NESTED_LOOPS = ("NESTED_LOOP_JOIN", "BLOCKWISE_NL_JOIN")


@pytest.mark.xdist_group("dbt")
def test_no_model_plans_a_nested_loop_join(built: tuple[Path, dict], tmp_path: Path) -> None:
    """Cost stays bounded: DuckDB's plan of every model uses hash joins (or range joins
    over sorted keys), never a nested loop over two inputs that grow with the data."""
    warehouse, _ = built
    compiled = warehouse.parent / "dbt_target" / "compiled" / "samkjop" / "models"
    models = sorted(compiled.rglob("*.sql"))
    assert len(models) > 40
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        offenders = {
            model.stem: [op for op in NESTED_LOOPS if op in plan]
            for model in models
            for plan in [con.execute("explain " + model.read_text()).fetchall()[0][1]]
            if any(op in plan for op in NESTED_LOOPS)
        }
    finally:
        con.close()
    assert offenders == {}


@pytest.mark.xdist_group("dbt")
def test_a_lost_or_doubled_line_fails_the_nothing_lost_test(
    built: tuple[Path, dict], tmp_path: Path
) -> None:
    """assert_every_spend_line_loaded_or_rejected (one aggregation per integer key, bounded
    memory at any size) finds a line missing from fct_spend_lines, a line in it twice and a
    delivery whose rows read differ from its rows loaded, excluded and rejected."""
    warehouse, _ = built
    broken = tmp_path / "broken" / warehouse.name  # dbt's relations name the file's stem
    broken.parent.mkdir()
    shutil.copy(warehouse, broken)
    con = duckdb.connect(str(broken))
    try:
        first, second = con.execute(
            "select spend_line_key from marts.fct_spend_lines order by spend_line_key limit 2"
        ).fetchall()
        con.execute("delete from marts.fct_spend_lines where spend_line_key = ?", first)
        con.execute(
            "insert into marts.fct_spend_lines "
            "select * from marts.fct_spend_lines where spend_line_key = ?",
            second,
        )
        con.execute(
            "update raw.deliveries set rows_read = rows_read + 1 where delivery_id = "
            "(select min(delivery_id) from raw.deliveries)"
        )
    finally:
        con.close()
    result = run_dbt(
        ["test", "--select", "assert_every_spend_line_loaded_or_rejected"], broken, tmp_path
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Got 3 results" in result.stdout, result.stdout[-3000:]
