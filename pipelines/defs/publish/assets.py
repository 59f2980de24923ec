"""Publish the finished marts as the read-only snapshot the dashboards and exports read."""

import dagster as dg

from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.publish import publish_snapshot
from pipelines.settings import Cooperation


def build_publish_asset(cooperation: Cooperation, dbt_models: dg.AssetsDefinition):
    @dg.asset(
        deps=[dbt_models],
        group_name="publish",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description="A finished copy of the marts, replaced atomically; dashboards and exports "
        "read only this file and never block a pipeline run.",
    )
    def published_snapshot() -> dg.MaterializeResult:
        counts = publish_snapshot(cooperation.warehouse, cooperation.snapshot)
        return dg.MaterializeResult(
            metadata={
                "snapshot": dg.MetadataValue.path(str(cooperation.snapshot)),
                **{f"{table}_rows": rows for table, rows in counts.items()},
            }
        )

    return published_snapshot
