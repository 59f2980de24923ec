"""A production run never fails because of a cooperation's own valid settings.

`samkjop run` builds the models and their data tests with the cooperation's settings as
dbt vars (pipelines/defs/transform/dbt.py: dbt_vars) and without the unit tests, which pin
the rules with vars of their own. Here the project is built, exactly as a run builds it,
for cooperations at the edges of every documented setting: another country without
thresholds, an empty threshold list, a single tiny threshold, zero and full tolerance,
a zero and a year-long duplicate window, a huge minimum amount, a cap of one pair, and
catch-all patterns with regular-expression syntax.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.defs.transform.dbt import dbt_vars
from pipelines.settings import load_config
from tests.conftest import write
from tests.dbt.runner import run_dbt
from tests.dbt.test_dbt_project import OVERRIDES, _seed

CONFIG = """
cooperation:
  name: Edge
  country: {country}
  currency: NOK
  host: "5035"
{settings}
agreements: [{{path: agreements.csv, profile: canonical}}]
municipalities:
  - {{id: "5035", name: Stjørdal}}
  - {{id: "5032", name: Selbu}}
  - {{id: "5033", name: Tydal}}
"""
EDGES = {
    "GB without thresholds, the tightest bounds": (
        "GB",
        """
  price_tolerance: 0
  duplicate_window_days: 0
  duplicate_min_amount: 0
  duplicate_max_pairs_per_supplier: 1
  catch_all_payees: ["(?i)^kontor", "Mat AS|Lønn", "^Kontor AS \\\\(x\\\\)$"]
  unmapped_warning_share: 0
""",
    ),
    "NO with an empty threshold list, the widest bounds": (
        "NO",
        """
  thresholds: []
  price_tolerance: 1
  duplicate_window_days: 366
  duplicate_min_amount: 99999999999999
  duplicate_max_pairs_per_supplier: 1000000000
  catch_all_payees: []
  unmapped_warning_share: 1
""",
    ),
    "DK with one tiny threshold": ("DK", "\n  thresholds: [1]\n"),
}


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("edges")
    path = tmp_path / "warehouse.duckdb"
    _seed(path)
    return path, tmp_path


@pytest.mark.xdist_group("dbt_edges")
@pytest.mark.parametrize("edge", sorted(EDGES))
def test_a_run_with_edge_settings_builds_every_model_and_data_test(warehouse, edge, tmp_path):
    path, scratch = warehouse
    country, settings = EDGES[edge]
    write(tmp_path / "agreements.csv", "agreement_id\n")
    config = write(tmp_path / "cooperation.yml", CONFIG.format(country=country, settings=settings))
    variables = {**dbt_vars(load_config(config)), "reference_overrides": OVERRIDES}

    result = run_dbt(
        ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(variables)],
        path,
        scratch,
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    run_results = json.loads((scratch / "dbt_target" / "run_results.json").read_text())
    kinds = {r["unique_id"].split(".")[0] for r in run_results["results"]}
    assert "unit_test" not in kinds and {"model", "test"} <= kinds
