"""Great Expectations suites generated from the data contracts, and their checks of loaded data."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.quality.gx_contracts import (
    ContractCheck,
    asset_check_result,
    build_suite,
    validate_delivery,
    validate_frame,
)
from pipelines.settings import CONTRACTS_DIR
from pipelines.warehouse import create_raw_schema

NOT_NULL = "expect_column_values_to_not_be_null"
REGEX = "expect_column_values_to_match_regex"
IN_SET = "expect_column_values_to_be_in_set"
TYPE_LIST = "expect_column_values_to_be_in_type_list"
TYPED = {"date", "number", "integer", "boolean"}
DATASETS = sorted(p.name.removesuffix(".odcs.yaml") for p in CONTRACTS_DIR.glob("*.odcs.yaml"))


def implied_by_yaml(dataset: str) -> Counter:
    """(expectation type, column) pairs the contract YAML implies, read independently."""
    document = yaml.safe_load((CONTRACTS_DIR / f"{dataset}.odcs.yaml").read_text("utf-8"))
    implied: Counter = Counter()
    for prop in document["schema"][0]["properties"]:
        name = prop["name"]
        if prop.get("required") is True:
            implied[NOT_NULL, name] += 1
        if (prop.get("logicalTypeOptions") or {}).get("pattern"):
            implied[REGEX, name] += 1
        if any(rule.get("rule") == "validValues" for rule in prop.get("quality") or []):
            implied[IN_SET, name] += 1
        if prop["logicalType"] in TYPED:
            implied[TYPE_LIST, name] += 1
    return implied


def built(dataset: str, columns=None) -> Counter:
    suite = build_suite(dataset, columns)
    return Counter((e.expectation_type, e.column) for e in suite.expectations)


def per_type(pairs: Counter) -> Counter:
    counts: Counter = Counter()
    for (kind, _), n in pairs.items():
        counts[kind] += n
    return counts


@pytest.mark.parametrize("dataset", DATASETS)
def test_suite_has_the_expectations_the_contract_implies(dataset):
    implied = implied_by_yaml(dataset)
    assert per_type(built(dataset)) == per_type(implied)
    assert built(dataset) == implied


def test_spend_suite_uses_the_contract_rules():
    suite = build_suite("spend")
    document = yaml.safe_load((CONTRACTS_DIR / "spend.odcs.yaml").read_text("utf-8"))
    props = {p["name"]: p for p in document["schema"][0]["properties"]}
    regexes = {
        e.column: (e.regex, e.mostly) for e in suite.expectations if e.expectation_type == REGEX
    }
    assert regexes == {
        name: (p["logicalTypeOptions"]["pattern"], 1.0)
        for name, p in props.items()
        if "pattern" in (p.get("logicalTypeOptions") or {})
    }
    (in_set,) = [e for e in suite.expectations if e.expectation_type == IN_SET]
    assert (in_set.column, sorted(in_set.value_set)) == ("item_code_scheme", ["CPV", "UNSPSC"])
    assert per_type(implied_by_yaml("spend"))[NOT_NULL] >= 3  # the YAML still has required fields


def test_suite_only_covers_the_columns_given():
    assert {
        column for _, column in built("spend", ["currency", "invoice_id", "not_in_contract"])
    } == {"currency", "invoice_id"}
    assert built("spend", []) == Counter()


def spend_frame(rows: int = 6) -> pd.DataFrame:
    """Spend lines as the loaded raw.spend_lines gives them to pandas (DATE, DECIMAL typed)."""
    return pd.DataFrame(
        {
            "municipality_id": ["5037"] * rows,
            "invoice_id": [f"2024-{i:06d}" for i in range(rows)],
            "line_no": ["1"] * rows,
            "invoice_date": pd.to_datetime(["2024-03-15"] * rows),
            "supplier_org_no_raw": ["NO 923 609 016 MVA"] * rows,
            "supplier_org_no": [None] * rows,  # the validated number: not the contract's meaning
            "supplier_name": ["Atea AS"] * rows,
            "account": ["11500"] * rows,
            "art": ["115"] * rows,
            "amount_excl_vat": [1234.5] * (rows - 1) + [-200.0],
            "currency": ["NOK"] * (rows - 1) + ["EUR"],
            "item_code": ["30192000-1"] * rows,
            "item_code_scheme": ["CPV", "UNSPSC"] + [None] * (rows - 2),
            "description": ["Toner"] * rows,
            "department": ["2000"] * rows,
            "seller_item_id": ["TONER-7"] * rows,
            "quantity": [2.0] * rows,
            "unit_price": [617.25] * (rows - 1) + [100.0],
        }
    )


def test_clean_frame_passes():
    check = validate_frame(spend_frame(), "spend")
    assert check == ContractCheck(
        success=True, evaluated=10, failures=[], rows=6, dataset="spend", subject="spend frame"
    )
    assert check.evaluated == sum(per_type(implied_by_yaml("spend")).values())


def test_bad_values_fail_with_readable_failures_naming_the_column():
    frame = spend_frame()
    frame.loc[1, "invoice_id"] = None
    frame.loc[2, "currency"] = "kroner"
    frame.loc[3, "item_code_scheme"] = "XYZ"
    frame.loc[4, "art"] = "ABC"
    check = validate_frame(frame, "spend")
    assert not check.success
    assert check.rows == 6
    assert check.missing_required == 1
    assert len(check.failures) == 4
    by_column = {f.split(":")[0]: f for f in check.failures}
    assert by_column["column invoice_id"] == (
        "column invoice_id: 1 of 6 values are missing (expect not null); at row 1"
    )
    assert by_column["column currency"] == (
        "column currency: 1 of 6 values do not match ^[A-Z]{3}$ (expect match regex); "
        "e.g. 'kroner'; at row 2"
    )
    assert "'XYZ'" in by_column["column item_code_scheme"]
    assert "CPV, UNSPSC" in by_column["column item_code_scheme"]
    assert "'ABC'" in by_column["column art"]


def test_wrong_dtype_is_reported():
    frame = spend_frame()
    frame["invoice_date"] = "15.03.2024"  # text, not a loaded DATE
    (failure,) = validate_frame(frame, "spend").failures
    assert failure.startswith("column invoice_date: the values are of type")
    assert "not a date" in failure


def test_asset_check_result_severity_and_metadata():
    clean = validate_frame(spend_frame(), "spend")
    odd = spend_frame()
    odd.loc[0, "art"] = "ABC"
    warn = validate_frame(odd, "spend", subject="delivery warn")
    missing = spend_frame()
    missing.loc[0, "invoice_id"] = None
    error = validate_frame(missing, "spend", subject="delivery error")

    passed = asset_check_result([clean])
    assert passed.passed and passed.metadata["rows"].value == 6
    assert passed.metadata["failures"].value == "none"

    result = asset_check_result(
        [clean, warn], asset_key=["raw", "spend_lines"], check_name="spend_contract"
    )
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.asset_key == dg.AssetKey(["raw", "spend_lines"])
    assert result.metadata["expectations_evaluated"].value == 20
    assert "**delivery warn** (6 rows)" in result.metadata["failures"].value
    assert "- column art:" in result.metadata["failures"].value

    assert asset_check_result([warn, error]).severity == dg.AssetCheckSeverity.ERROR


def test_asset_check_result_in_a_dagster_multi_asset():
    frame = spend_frame()
    frame.loc[0, "currency"] = "kroner"

    @dg.multi_asset(
        specs=[dg.AssetSpec(["raw", "spend_lines"])],
        check_specs=[dg.AssetCheckSpec("spend_contract", asset=["raw", "spend_lines"])],
    )
    def member_spend():
        yield dg.MaterializeResult(asset_key=["raw", "spend_lines"])
        yield asset_check_result(
            [validate_frame(frame, "spend")],
            asset_key=["raw", "spend_lines"],
            check_name="spend_contract",
        )

    result = dg.materialize([member_spend], raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "spend_contract"
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN


def test_agreements_and_taxonomy_suites_validate_small_frames():
    con = duckdb.connect()
    create_raw_schema(con)
    con.execute("""
        INSERT INTO raw.agreements VALUES
        ('A1', 'IT hardware', 'cooperation', DATE '2024-01-01', DATE '2024-12-31', 0.0225,
         'agreements.csv', 2, 2500000),
        ('A2', NULL, 'national', DATE '2023-06-01', DATE '2025-05-31', NULL, 'agreements.csv', 3,
         NULL)
    """)
    agreements = con.execute("SELECT * FROM raw.agreements").df()
    check = validate_frame(agreements, "agreements")
    assert check.success, check.failures
    # category_ids, supplier_org_nos, participants are not columns of raw.agreements
    assert check.evaluated == sum(per_type(implied_by_yaml("agreements")).values()) - 2

    agreements.loc[1, "scope"] = "regional"
    agreements["valid_to"] = agreements["valid_to"].astype(str)
    failures = validate_frame(agreements, "agreements").failures
    assert any(f.startswith("column scope:") and "'regional'" in f for f in failures)
    assert any(f.startswith("column valid_to:") and "not a date" in f for f in failures)

    taxonomy = pd.DataFrame(
        {
            "category_id": ["it", "it.hardware"],
            "category_name": ["IT", "IT-utstyr"],
            "parent_id": [None, "it"],
        }
    )
    assert validate_frame(taxonomy, "taxonomy").success
    taxonomy.loc[1, "category_name"] = None
    assert validate_frame(taxonomy, "taxonomy").failures == [
        "column category_name: 1 of 2 values are missing (expect not null); at row 1"
    ]


def insert_delivery(con: duckdb.DuckDBPyConnection, delivery_id: str, rows: int) -> None:
    con.execute(
        f"""
        INSERT INTO raw.spend_lines
        SELECT ?, '5037', 'INV-' || i, '1', DATE '2024-01-01' + (i % 365)::INTEGER,
               '923609016', '923609016', 'NO', true, 'Atea AS', '11500',
               ((i % 900) + 100)::VARCHAR, (i % 1000)::DECIMAL(18, 4) + 0.5, 'NOK',
               '30192000-1', CASE WHEN i % 2 = 0 THEN 'CPV' END, 'Toner', NULL, NULL,
               'spend.csv', i, 'sha', current_timestamp, NULL, NULL, NULL, NULL, NULL,
               NULL,  -- spend_line_key: not checked by the contract
               i + 1  -- source_line
        FROM range(1, {rows} + 1) AS t(i)
    """,
        [delivery_id],
    )


def test_validate_delivery_checks_every_chunk(tmp_path: Path):
    rows = 250_000
    with duckdb.connect(str(tmp_path / "samkjop.duckdb")) as con:
        create_raw_schema(con)
        insert_delivery(con, "d1", rows)
        insert_delivery(con, "other", 1_000)
        # The last row of the last chunk (rows are read in source_row order).
        con.execute(
            "UPDATE raw.spend_lines SET currency = 'kroner', art = 'ABC' "
            "WHERE delivery_id = 'd1' AND source_row = ?",
            [rows],
        )
        con.execute(
            "UPDATE raw.spend_lines SET item_code_scheme = 'XYZ' WHERE delivery_id = 'other'"
        )  # another delivery: not counted

        assert not validate_delivery(con, "other").success  # also warms up the GX context
        started = time.perf_counter()
        check = validate_delivery(con, "d1")  # 100 352 rows a chunk: 3 chunks
        elapsed = time.perf_counter() - started
    print(f"\nvalidate_delivery: {rows} rows in {elapsed:.2f} s")

    assert check.rows == rows
    assert check.subject == "delivery d1"
    assert check.evaluated == 10
    assert not check.success
    assert check.failures == [
        f"column art: 1 of {rows} values do not match ^[0-9]{{3}}$ (expect match regex); "
        f"e.g. 'ABC'; at source_row {rows}",
        f"column currency: 1 of {rows} values do not match ^[A-Z]{{3}}$ (expect match regex); "
        f"e.g. 'kroner'; at source_row {rows}",
    ]


def test_validate_delivery_sums_the_chunks(tmp_path: Path):
    with duckdb.connect(str(tmp_path / "samkjop.duckdb")) as con:
        create_raw_schema(con)
        insert_delivery(con, "d1", 20_000)
        con.execute(
            "UPDATE raw.spend_lines SET item_code_scheme = 'XYZ' "
            "WHERE source_row IN (1, 9000, 20000)"
        )  # chunks 1, 3 and 5 of 5
        check = validate_delivery(con, "d1", chunk_rows=4096)
        assert validate_delivery(con, "no such delivery") == ContractCheck(
            success=True,
            evaluated=10,
            failures=[],
            rows=0,
            dataset="spend",
            subject="delivery no such delivery",
        )
    assert check.rows == 20_000
    assert check.failures == [
        "column item_code_scheme: 3 of 20000 values are not one of CPV, UNSPSC (expect in set); "
        "e.g. 'XYZ'; at source_row 1, 9000, 20000"
    ]


def test_validate_deliveries_checks_several_deliveries_in_one_pass(tmp_path):
    import duckdb

    from pipelines.quality.gx_contracts import validate_deliveries
    from pipelines.warehouse import create_raw_schema

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    create_raw_schema(con)
    for delivery, currency in (("D1", "NOK"), ("D2", "kroner")):
        con.execute(
            "INSERT INTO raw.spend_lines (delivery_id, municipality_id, invoice_id, invoice_date,"
            " is_supplier_org_no_valid, amount_excl_vat, currency, source_file, source_row,"
            " file_sha256, loaded_at) SELECT ?, '5035', 'F' || i, DATE '2024-01-01', false,"
            " 10, CASE WHEN i = 3 THEN ? ELSE 'NOK' END, '/x/' || ? || '.csv', i, 'sha',"
            " now() FROM range(1, 6) t(i)",
            [delivery, currency, delivery],
        )
    check = validate_deliveries(con, ["D1", "D2"])
    con.close()
    assert check.rows == 10 and not check.success
    assert any("D2.csv:3" in failure and "currency" in failure for failure in check.failures)
