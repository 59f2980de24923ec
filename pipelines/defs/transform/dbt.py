"""The dbt project as Dagster assets: one asset per model, dbt tests as asset checks."""

import json
import os
import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.settings import DBT_PROJECT_DIR, Cooperation

WAREHOUSE_ENV_VAR = "SAMKJOP_WAREHOUSE"  # read by dbt_project/profiles.yml
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")  # the venv's dbt, PATH or not


def dbt_project_for(cooperation: Cooperation) -> tuple[DbtProject, DbtCliResource]:
    """The dbt project with this cooperation's warehouse and target folder, parsed."""
    os.environ[WAREHOUSE_ENV_VAR] = str(cooperation.warehouse)
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=cooperation.dbt_target_dir)
    dbt = DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE)
    if _manifest_is_stale(project.manifest_path):
        dbt.cli(["parse", "--quiet"], target_path=project.target_path, raise_on_error=True).wait()
    return project, dbt


def _manifest_is_stale(manifest: Path) -> bool:
    """Parse again only when a file of the dbt project changed since the last parse."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = (
        p
        for p in DBT_PROJECT_DIR.rglob("*")
        if p.suffix in (".sql", ".yml", ".csv")
        and "target" not in p.parts
        and "logs" not in p.parts
    )
    return any(p.stat().st_mtime > built for p in sources)


def dbt_vars(cooperation: Cooperation) -> dict:
    """The cooperation's configuration that the dbt models read as vars."""
    return {
        "thresholds": list(cooperation.thresholds),
        "price_tolerance": cooperation.price_tolerance,  # price_deviations
        # possible_duplicate_invoices
        "duplicate_window_days": cooperation.duplicate_window_days,
        "duplicate_min_amount": cooperation.duplicate_min_amount,
        "duplicate_max_pairs_per_supplier": cooperation.duplicate_max_pairs_per_supplier,
        "catch_all_payees": list(cooperation.catch_all_payees),
        # seeded reference datasets replaced by a configured file (macro reference_data)
        "reference_overrides": cooperation.reference_overrides,
    }


def build_dbt_assets(cooperation: Cooperation) -> tuple[dg.AssetsDefinition, DbtCliResource]:
    project, dbt_resource = dbt_project_for(cooperation)
    # The unit tests pin the metric rules with vars of their own; they run in `make test`,
    # never against a cooperation's data and settings.
    build_args = [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps(dbt_vars(cooperation)),
    ]

    @dbt_assets(manifest=project.manifest_path, project=project, pool=WAREHOUSE_POOL)
    def samkjop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(build_args, context=context).stream()

    return samkjop_dbt_models, dbt_resource
