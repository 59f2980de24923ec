"""The dbt project as Dagster assets: one asset per model, dbt tests as asset checks."""

from __future__ import annotations

import os

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.settings import DBT_PROJECT_DIR, Cooperation

WAREHOUSE_ENV_VAR = "SAMKJOP_WAREHOUSE"  # read by dbt_project/profiles.yml


def dbt_project_for(cooperation: Cooperation) -> DbtProject:
    os.environ[WAREHOUSE_ENV_VAR] = str(cooperation.warehouse)
    project = DbtProject(project_dir=DBT_PROJECT_DIR, target_path=cooperation.dbt_target_dir)
    if not project.manifest_path.exists() or os.environ.get("SAMKJOP_DBT_PARSE", "1") == "1":
        project.preparer.prepare(project)
    return project


def build_dbt_assets(cooperation: Cooperation) -> tuple[dg.AssetsDefinition, DbtCliResource]:
    project = dbt_project_for(cooperation)

    @dbt_assets(manifest=project.manifest_path, project=project, pool=WAREHOUSE_POOL)
    def samkjop_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    return samkjop_dbt_models, DbtCliResource(project_dir=project)
