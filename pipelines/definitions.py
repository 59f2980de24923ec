"""The Dagster code location: loads the cooperation named by SAMKJOP_CONFIG and its assets."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.automation import (
    build_alert_sensors,
    build_automation_sensor,
    build_delivery_sensor,
    build_freshness_checks,
)
from pipelines.defs.ingest.assets import build_ingest_assets
from pipelines.defs.publish.assets import build_publish_asset
from pipelines.defs.transform.dbt import build_dbt_assets
from pipelines.settings import Cooperation, config_from_env

INGEST_JOB = "ingest_member_spend"
BUILD_JOB = "build_and_publish"


def build_definitions(cooperation: Cooperation) -> dg.Definitions:
    member_spend, agreement_register, reference_data = build_ingest_assets(cooperation)
    dbt_models, dbt_resource = build_dbt_assets(cooperation)
    published_snapshot = build_publish_asset(cooperation, dbt_models)
    freshness_checks = build_freshness_checks(cooperation, published_snapshot.key)
    freshness = dg.AssetSelection.checks(freshness_checks)
    ingest_job = dg.define_asset_job(
        INGEST_JOB,
        selection=dg.AssetSelection.assets(member_spend) - freshness,
        description="Load one member's deliveries (one run per member).",
    )
    build_job = dg.define_asset_job(
        BUILD_JOB,
        selection=(dg.AssetSelection.all() - dg.AssetSelection.assets(member_spend)) | freshness,
        description="Reference data and agreements, the dbt models and tests, then publish; "
        "then each member's delivery freshness.",
    )
    return dg.Definitions(
        assets=[member_spend, agreement_register, reference_data, dbt_models, published_snapshot],
        asset_checks=[freshness_checks],
        jobs=[ingest_job, build_job],
        sensors=[
            build_delivery_sensor(cooperation, ingest_job),
            build_automation_sensor(),
            *build_alert_sensors(cooperation),
        ],
        resources={"dbt": dbt_resource},
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """What `dagster dev -m pipelines.definitions` and the samkjop CLI load."""
    return build_definitions(config_from_env())
