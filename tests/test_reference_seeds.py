"""The shipped reference defaults are dbt seeds (dbt_project/seeds/); a configured file
replaces one, is validated by the Python loader and loaded into raw, and dbt is told so.

The seeds are validated here by the same Python validators that check a cooperation's
own files, so a broken default fails the test suite instead of the dbt build.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from pipelines.register_loader import RegisterError, load_reference, read_reference
from pipelines.settings import (
    DBT_PROJECT_DIR,
    SEEDED_REFERENCE_DATASETS,
    default_reference_file,
    load_config,
)
from pipelines.warehouse import create_raw_schema
from tests.conftest import CONFIG, write, write_innherred

SEEDS = DBT_PROJECT_DIR / "seeds"


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def cooperation(tmp_path: Path):
    return load_config(write_innherred(tmp_path))


def test_seeded_defaults_live_in_the_dbt_seeds_folder_only():
    for dataset in SEEDED_REFERENCE_DATASETS:
        assert default_reference_file(dataset) == SEEDS / f"{dataset}.csv"
        assert default_reference_file(dataset).is_file()
        assert not (
            DBT_PROJECT_DIR.parent / "pipelines" / "reference_defaults" / f"{dataset}.csv"
        ).exists()


@pytest.mark.parametrize("dataset", SEEDED_REFERENCE_DATASETS)
def test_seed_passes_the_loader_validation_unchanged(dataset, cooperation):
    """dbt reads the seed as it is: the validated rows must equal the file's values, or
    a default would mean something else read as a seed than loaded as a configured file."""
    path = default_reference_file(dataset)
    validated = read_reference(path, dataset, cooperation)
    rows = _csv(path)
    assert validated and len(validated) == len(rows)
    for converted, row in zip(validated, rows, strict=True):
        as_text = tuple(
            "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
            for v in converted
        )
        assert as_text == tuple(row.values()), (dataset, row)


def test_rules_and_factors_point_to_categories_of_the_default_taxonomy():
    taxonomy = _csv(default_reference_file("taxonomy"))
    leaves = {r["category_id"] for r in taxonomy if r["parent_id"]}
    categories = {r["category_id"] for r in taxonomy}
    assert {
        r["category_id"] for r in _csv(default_reference_file("classification_rules"))
    } <= leaves
    assert {
        r["category_id"] for r in _csv(default_reference_file("emission_factors"))
    } <= categories


def test_shipped_emission_factors_say_they_are_illustrative():
    """No factor of a published source could be checked offline: every shipped factor
    must say so in the data itself."""
    factors = _csv(default_reference_file("emission_factors"))
    assert factors
    for factor in factors:
        assert factor["is_illustrative"] == "true"
        assert factor["source"] == "illustrative demo factor, not a published value"
        assert factor["currency"] == "NOK"


def _raw_counts(cooperation) -> dict[str, int]:
    con = duckdb.connect()
    create_raw_schema(con)
    # a stale copy from an earlier run must not survive when the seed takes over
    con.execute("insert into raw.kostra_arts values ('999', 'stale', true)")
    counts = load_reference(con, cooperation)
    in_raw = {
        d: con.execute(f"select count(*) from raw.{d}").fetchone()[0]
        for d in SEEDED_REFERENCE_DATASETS
    }
    assert in_raw == {d: counts[d] for d in SEEDED_REFERENCE_DATASETS}
    return in_raw


def test_only_configured_files_are_loaded_into_raw(cooperation):
    # the example configures taxonomy and classification_rules, not kostra_arts
    assert cooperation.reference_overrides == ["taxonomy", "classification_rules"]
    assert _raw_counts(cooperation) == {
        "taxonomy": 4,
        "classification_rules": 3,
        "kostra_arts": 0,
        "emission_factors": 0,
    }


def test_configured_emission_factors_are_validated_and_loaded(tmp_path: Path):
    config = write_innherred(tmp_path)
    write(
        config,
        CONFIG.replace(
            "  taxonomy: taxonomy.csv\n",
            "  taxonomy: taxonomy.csv\n  emission_factors: emission_factors.csv\n",
        ),
    )
    write(
        tmp_path / "emission_factors.csv",
        """
        category_id,kg_co2e_per_currency_unit,currency,source,is_illustrative
        it,0.02,NOK,Our own study 2025,false
    """,
    )
    cooperation = load_config(config)
    assert "emission_factors" in cooperation.reference_overrides  # dbt_vars passes these
    assert _raw_counts(cooperation)["emission_factors"] == 1

    write(
        tmp_path / "emission_factors.csv",
        """
        category_id,kg_co2e_per_currency_unit,currency,source,is_illustrative
        it,0.02,NOK,Our own study 2025,false
        mat,"0,08",NOK,Our own study 2025,false
    """,
    )
    with pytest.raises(
        RegisterError,
        match=r"emission_factors.csv: row 2, column "
        r"'kg_co2e_per_currency_unit': '0,08' is not a number",
    ):
        _raw_counts(cooperation)
