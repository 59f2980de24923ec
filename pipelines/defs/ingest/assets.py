"""Ingestion assets: each member's spend deliveries, the agreement register, reference data."""

from __future__ import annotations

import time

import dagster as dg

from pipelines.profiles import ProfileError, load_profile
from pipelines.register_loader import load_agreements, load_reference
from pipelines.settings import Cooperation
from pipelines.spend_loader import DeliveryResult, file_sha256, load_spend_file
from pipelines.warehouse import connect, create_raw_schema

INGEST_GROUP = "ingest"
WAREHOUSE_POOL = "duckdb_warehouse"  # one writer at a time: DuckDB allows one writing process


def member_partitions(cooperation: Cooperation) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(cooperation.member_ids)


def _profile_rejections(source, error: ProfileError) -> list[DeliveryResult]:
    return [
        DeliveryResult(str(path), file_sha256(path), "rejected", f"{path.name}: {error}")
        for path in source.files()
    ]


def load_member_deliveries(cooperation: Cooperation, member_id: str, log) -> list[DeliveryResult]:
    """Load every delivered file of one member; each file is one delivery."""
    member = cooperation.member(member_id)
    results: list[DeliveryResult] = []
    with connect(cooperation.warehouse) as con:
        create_raw_schema(con)
        for source in member.spend:
            try:
                profile = load_profile(source.profile, cooperation.root)
            except ProfileError as error:
                log.error(f"{member_id}: {error}")
                rejected = _profile_rejections(source, error)
                _record_profile_rejections(con, member_id, source.profile, rejected)
                results += rejected
                continue
            for path in source.files():
                started = time.monotonic()
                result = load_spend_file(con, path, member_id, profile, cooperation.country,
                                         cooperation.currency)
                log.info(f"{member_id} {path.name}: {result.status}: {result.message} "
                         f"({time.monotonic() - started:.1f} s)")
                results.append(result)
    return results


def _record_profile_rejections(con, member_id: str, profile: str,
                               rejected: list[DeliveryResult]) -> None:
    for result in rejected:
        con.execute(
            "INSERT INTO raw.deliveries VALUES (?, ?, ?, ?, ?, 0, 0, 0, NULL, NULL, NULL, "
            "'rejected', ?, current_timestamp)",
            [result.file_sha256, member_id, result.source_file, result.file_sha256, profile,
             result.message],
        )


def build_ingest_assets(cooperation: Cooperation) -> list[dg.AssetsDefinition]:
    @dg.asset(
        partitions_def=member_partitions(cooperation),
        group_name=INGEST_GROUP,
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        description="One member's spend deliveries (paid invoices, ledger postings), each file "
        "loaded into raw.spend_lines with lineage, or rejected with its reason.",
    )
    def member_spend(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        results = load_member_deliveries(cooperation, context.partition_key, context.log)
        statuses = [r.status for r in results]
        return dg.MaterializeResult(metadata={
            "deliveries": len(results),
            "loaded": statuses.count("loaded"),
            "skipped_duplicate": statuses.count("skipped_duplicate"),
            "rejected": statuses.count("rejected"),
            "rows_loaded": sum(r.rows_loaded for r in results),
            "rows_rejected": sum(r.rows_rejected for r in results),
            "rejected_deliveries": dg.MetadataValue.md(
                "\n".join(f"- {r.message}" for r in results if r.status == "rejected") or "none"
            ),
        })

    @dg.asset(
        group_name=INGEST_GROUP,
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        description="The cooperation's register of framework agreements (raw.agreements and "
        "its category, supplier and participant lists).",
    )
    def agreement_register(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with connect(cooperation.warehouse) as con:
            create_raw_schema(con)
            tables = load_agreements(con, cooperation)
        for problem in tables.invalid_supplier_numbers:
            context.log.warning(f"agreement supplier with an invalid organisation number: "
                                f"{problem} (it can never match a spend line)")
        return dg.MaterializeResult(metadata={
            "agreements": len(tables.agreements),
            "invalid_supplier_numbers": len(tables.invalid_supplier_numbers),
        })

    @dg.asset(
        group_name=INGEST_GROUP,
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        description="Reference data: taxonomy, classification rules, exchange rates, excluded "
        "suppliers, KOSTRA arts, and the member list from cooperation.yml.",
    )
    def reference_data() -> dg.MaterializeResult:
        with connect(cooperation.warehouse) as con:
            create_raw_schema(con)
            counts = load_reference(con, cooperation)
        return dg.MaterializeResult(metadata={f"{k}_rows": v for k, v in counts.items()})

    return [member_spend, agreement_register, reference_data]
