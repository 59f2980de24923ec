"""The Dagster code location loads, and its asset graph has the expected keys and edges."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import BUILD_JOB, INGEST_JOB, build_definitions, defs
from pipelines.settings import CONFIG_ENV_VAR, ConfigError, load_config
from tests.conftest import write_innherred


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def config_path(tmp_path_factory):
    return write_innherred(tmp_path_factory.mktemp("definitions"))


@pytest.fixture(scope="session")  # once per worker, however xdist interleaves modules
def definitions(config_path) -> dg.Definitions:
    return build_definitions(load_config(config_path))


def test_asset_graph(definitions):
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    raw = {
        "raw/spend_lines",
        "raw/rejected_rows",
        "raw/deliveries",
        "raw/agreements",
        "raw/agreement_categories",
        "raw/agreement_suppliers",
        "raw/agreement_participants",
        "raw/municipalities",
        "raw/cooperation",
        "raw/taxonomy",
        "raw/classification_rules",
        "raw/exchange_rates",
        "raw/excluded_suppliers",
        "raw/kostra_arts",
    }
    marts = {
        f"marts/{name}"
        for name in (
            "fct_spend_lines",
            "kpis_by_period",
            "municipality_kpis",
            "category_kpis",
            "off_agreement_suppliers",
            "rejected_rows",
            "delivery_reconciliation",
            "dim_municipalities",
            "dim_categories",
            "dim_agreements",
            "cooperation",
        )
    }
    assert raw <= keys
    assert marts <= keys
    assert "published_snapshot" in keys
    publish_parents = {
        k.to_user_string() for k in graph.get(dg.AssetKey("published_snapshot")).parent_keys
    }
    assert marts <= publish_parents
    spend_children = {
        k.to_user_string() for k in graph.get(dg.AssetKey(["raw", "spend_lines"])).child_keys
    }
    assert spend_children  # the staging model reads it


def test_member_partitions_come_from_the_config(definitions):
    job = definitions.resolve_job_def(INGEST_JOB)
    assert job.partitions_def.get_partition_keys() == ["5037"]
    assert definitions.resolve_job_def(BUILD_JOB) is not None


def test_dbt_tests_are_asset_checks(definitions):
    checks = {key.name for key in definitions.resolve_asset_graph().asset_check_keys}
    assert any("delivery_reconciliation" in name for name in checks)
    assert "spend_contract" in checks  # the GX suite from data_contracts/spend.odcs.yaml
    assert len(checks) > 20


def test_code_location_entry_point_reads_the_environment(config_path, definitions, monkeypatch):
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config_path))
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    monkeypatch.delenv(CONFIG_ENV_VAR)
    with pytest.raises(ConfigError, match="set SAMKJOP_CONFIG"):
        defs()
