"""Ingestion assets: each member's spend deliveries, the agreement register, reference data."""

import time

import dagster as dg

from pipelines.price_list_loader import load_price_lists
from pipelines.profiles import ProfileError, load_profile
from pipelines.register_loader import load_agreements, load_reference
from pipelines.settings import Cooperation
from pipelines.spend_loader import DeliveryResult, delivery_key, file_sha256, load_spend_file
from pipelines.warehouse import DELIVERY_TABLES, RAW_TABLES, connect, create_raw_schema

INGEST_GROUP = "ingest"
WAREHOUSE_POOL = "duckdb_warehouse"  # one writer at a time: DuckDB allows one writing process
SPEND_CONTRACT_CHECK = "spend_contract"
AGREEMENT_TABLES = (
    "agreements",
    "agreement_categories",
    "agreement_suppliers",
    "agreement_participants",
    "price_list",
)
REFERENCE_TABLES = tuple(t for t in RAW_TABLES if t not in DELIVERY_TABLES + AGREEMENT_TABLES)


def member_partitions(cooperation: Cooperation) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(cooperation.member_ids)


def _profile_rejections(member_id: str, source, error: ProfileError) -> list[DeliveryResult]:
    results = []
    for path in source.files():
        sha = file_sha256(path)
        results.append(
            DeliveryResult(
                delivery_key(member_id, str(path), sha),
                str(path),
                sha,
                "rejected",
                f"{path.name}: {error}",
            )
        )
    return results


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
                rejected = _profile_rejections(member_id, source, error)
                _record_profile_rejections(con, member_id, source.profile, rejected)
                results += rejected
                continue
            for path in source.files():
                started = time.monotonic()
                result = load_spend_file(
                    con, path, member_id, profile, cooperation.country, cooperation.currency
                )
                log.info(
                    f"{member_id} {path.name}: {result.status}: {result.message} "
                    f"({time.monotonic() - started:.1f} s)"
                )
                results.append(result)
    return results


def _record_profile_rejections(
    con, member_id: str, profile: str, rejected: list[DeliveryResult]
) -> None:
    for result in rejected:
        con.execute("DELETE FROM raw.deliveries WHERE delivery_id = ?", [result.delivery_id])
        con.execute(
            "INSERT INTO raw.deliveries VALUES (?, ?, ?, ?, ?, 0, 0, 0, NULL, NULL, NULL, "
            "'rejected', ?, current_timestamp)",
            [
                result.delivery_id,
                member_id,
                result.source_file,
                result.file_sha256,
                profile,
                result.message,
            ],
        )


def check_loaded_deliveries(
    cooperation: Cooperation, results: list[DeliveryResult]
) -> dg.AssetCheckResult:
    """Validate what this run loaded against the spend contract (GX 1.x)."""
    from pipelines.quality.gx_contracts import asset_check_result, validate_deliveries

    loaded = [r.delivery_id for r in results if r.status == "loaded"]
    with connect(cooperation.warehouse) as con:
        checks = [validate_deliveries(con, loaded)] if loaded else []
    return asset_check_result(
        checks, asset_key=["raw", "spend_lines"], check_name=SPEND_CONTRACT_CHECK
    )


def _specs(tables: tuple[str, ...], description: str) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            ["raw", table],
            group_name=INGEST_GROUP,
            kinds={"duckdb", "python"},
            description=f"raw.{table}: {description}",
        )
        for table in tables
    ]


def build_ingest_assets(cooperation: Cooperation) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="member_spend",
        specs=_specs(
            DELIVERY_TABLES,
            "one member's spend deliveries, each file loaded with "
            "lineage or rejected with its reason",
        ),
        check_specs=[
            dg.AssetCheckSpec(
                SPEND_CONTRACT_CHECK,
                asset=["raw", "spend_lines"],
                description="Great Expectations suite generated from "
                "data_contracts/spend.odcs.yaml, run on every delivery this run loaded",
            )
        ],
        partitions_def=member_partitions(cooperation),
        pool=WAREHOUSE_POOL,
    )
    def member_spend(context: dg.AssetExecutionContext):
        results = load_member_deliveries(cooperation, context.partition_key, context.log)
        statuses = [r.status for r in results]
        summary = {
            "deliveries": len(results),
            "loaded": statuses.count("loaded"),
            "skipped_duplicate": statuses.count("skipped_duplicate"),
            "rejected": statuses.count("rejected"),
            "rows_loaded": sum(r.rows_loaded for r in results),
            "rows_rejected": sum(r.rows_rejected for r in results),
            "rejected_deliveries": dg.MetadataValue.md(
                "\n".join(f"- {r.message}" for r in results if r.status == "rejected") or "none"
            ),
        }
        for table in DELIVERY_TABLES:
            yield dg.MaterializeResult(asset_key=["raw", table], metadata=summary)
        yield check_loaded_deliveries(cooperation, results)

    @dg.multi_asset(
        name="agreement_register",
        specs=_specs(
            AGREEMENT_TABLES,
            "the cooperation's register of framework agreements "
            "and their price lists (price_lists: in cooperation.yml)",
        ),
        pool=WAREHOUSE_POOL,
    )
    def agreement_register(context: dg.AssetExecutionContext):
        with connect(cooperation.warehouse) as con:
            create_raw_schema(con)
            tables = load_agreements(con, cooperation)
            price_rows = load_price_lists(con, cooperation)  # checked against the register
        for problem in tables.invalid_supplier_numbers:
            context.log.warning(
                f"agreement supplier with an invalid organisation number: "
                f"{problem} (it can never match a spend line)"
            )
        counts = {
            "agreements": len(tables.agreements),
            "agreement_categories": len(tables.categories),
            "agreement_suppliers": len(tables.suppliers),
            "agreement_participants": len(tables.participants),
            "price_list": price_rows,
        }
        for table in AGREEMENT_TABLES:
            yield dg.MaterializeResult(
                asset_key=["raw", table],
                metadata={
                    "rows": counts[table],
                    "invalid_supplier_numbers": len(tables.invalid_supplier_numbers),
                },
            )

    @dg.multi_asset(
        name="reference_data",
        specs=_specs(
            REFERENCE_TABLES,
            "reference data from the configured file or the "
            "shipped default, and the member list from cooperation.yml",
        ),
        pool=WAREHOUSE_POOL,
    )
    def reference_data():
        with connect(cooperation.warehouse) as con:
            create_raw_schema(con)
            counts = load_reference(con, cooperation)
        for table in REFERENCE_TABLES:
            yield dg.MaterializeResult(
                asset_key=["raw", table], metadata={"rows": counts.get(table, 1)}
            )

    return [member_spend, agreement_register, reference_data]
