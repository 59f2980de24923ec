"""Publish the finished marts as the read-only snapshot the dashboards and exports read."""

import time

import dagster as dg

from pipelines.defs.automation import BUILD_CONDITION
from pipelines.defs.ingest.assets import WAREHOUSE_POOL
from pipelines.progress import say
from pipelines.publish import publish_snapshot
from pipelines.settings import Cooperation


def build_publish_asset(cooperation: Cooperation, dbt_models: dg.AssetsDefinition):
    @dg.asset(
        deps=[dbt_models],
        group_name="publish",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        automation_condition=BUILD_CONDITION,  # after the models, once per batch
        description="A finished copy of the marts, replaced atomically; dashboards and exports "
        "read only this file and never block a pipeline run.",
    )
    def published_snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from pipelines.export import file_sha256, platform_version

        clock = time.monotonic()
        provenance = {
            "run_id": context.run_id,
            "config_sha256": file_sha256(cooperation.config_path),
            "platform_version": platform_version(),
        }
        counts = publish_snapshot(cooperation.warehouse, cooperation.snapshot, provenance)
        say(f"    published {len(counts)} tables in {time.monotonic() - clock:.1f} s")
        return dg.MaterializeResult(
            metadata={
                "snapshot": dg.MetadataValue.path(str(cooperation.snapshot)),
                **{f"{table}_rows": rows for table, rows in counts.items()},
            }
        )

    return published_snapshot
