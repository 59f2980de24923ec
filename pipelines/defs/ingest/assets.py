"""Ingestion assets: each member's spend deliveries, the agreement register, reference data."""

import fnmatch
import os
import stat
import time
from pathlib import Path

import dagster as dg

from pipelines.pause_points import pause_point
from pipelines.price_list_loader import load_price_lists
from pipelines.profiles import ProfileError, load_profile
from pipelines.register_loader import load_agreements, load_reference
from pipelines.settings import Cooperation, PeriodError, Source, unread_fingerprint
from pipelines.spend_loader import (
    DeliveryResult,
    file_sha256,
    load_spend_file,
    record_rejection,
)
from pipelines.supplier_register_loader import load_supplier_register
from pipelines.warehouse import (
    DELIVERY_TABLES,
    FILE_FINGERPRINTS,
    RAW_TABLES,
    connect,
    create_raw_schema,
)

INGEST_GROUP = "ingest"
WAREHOUSE_POOL = "duckdb_warehouse"  # one writer at a time: DuckDB allows one writing process
SPEND_CONTRACT_CHECK = "spend_contract"
REJECTION_MESSAGES = "rejection_messages"
AGREEMENT_TABLES = (
    "agreements",
    "agreement_categories",
    "agreement_suppliers",
    "agreement_participants",
    "price_list",
    "supplier_register",
)
REFERENCE_TABLES = tuple(t for t in RAW_TABLES if t not in DELIVERY_TABLES + AGREEMENT_TABLES)


def member_partitions(cooperation: Cooperation) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition(cooperation.member_ids)


UNREADABLE = "unreadable"  # the checksum of a file that cannot be read (it is rejected)


def delivery_order(source: Source, con=None) -> list[tuple[Path, str]]:
    """The source's files with their SHA-256, oldest first (modification time, then content):
    where two files declare the same period, the newer one is the one that counts, whatever
    their names. A file that cannot be read has the checksum UNREADABLE.

    With `con` (the warehouse), only new or changed files are read to be checksummed: a
    file whose size, modification time, change time (ns) and inode are those recorded in
    raw.file_fingerprints when it was last checksummed keeps that checksum (a folder of
    e-invoices is checksummed every time). Known limitation: a file whose content changed
    while all four stayed the same (rewritten in place within the file system's timestamp
    resolution, or with its clock set back) keeps its old checksum, and so counts as the
    file loaded before; delete its row in raw.file_fingerprints (or touch the file) to have
    it read again."""
    paths = source.files()
    known = _recorded_fingerprints(con, paths) if con is not None else {}
    files, hashed = [], []
    for path in paths:
        sha, fingerprint = _checksum(path, known.get(str(path)))
        files.append((path, sha))
        if fingerprint is not None:
            hashed.append((str(path), *fingerprint, sha))
    if con is not None and hashed:
        _record_fingerprints(con, hashed)
    return sorted(files, key=lambda item: (_modified(item[0]), item[1]))


def _fingerprint(path: Path) -> tuple[int, int, int, int] | None:
    """What the file system says of a regular file: size, mtime_ns, ctime_ns, inode. None:
    a folder (or anything else), whose checksum is never taken from the record."""
    status = os.stat(path)
    if not stat.S_ISREG(status.st_mode):
        return None
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino


def _checksum(path: Path, recorded: tuple | None = None) -> tuple[str, tuple | None]:
    """The file's SHA-256 (the recorded one when `recorded`, its fingerprint and checksum
    at the last read, still fits), and its fingerprint when the file was read now and did
    not change while it was (None: nothing to record)."""
    try:
        before = _fingerprint(path)
        if before is not None and recorded is not None and recorded[0] == before:
            return recorded[1], None
        sha = file_sha256(path)
        after = _fingerprint(path)
    except OSError:
        return UNREADABLE, None
    return sha, before if before is not None and before == after else None


def _recorded_fingerprints(con, paths: list[Path]) -> dict[str, tuple]:
    """path -> ((size, mtime_ns, ctime_ns, inode), sha256) as last recorded."""
    rows = con.execute(
        f"SELECT path, size, mtime_ns, ctime_ns, inode, sha256 FROM {FILE_FINGERPRINTS} "
        "WHERE list_contains(?, path)",
        [[str(path) for path in paths]],
    ).fetchall()
    return {path: (tuple(int(v) for v in values), sha) for path, *values, sha in rows}


def _record_fingerprints(con, hashed: list[tuple]) -> None:
    """Replace the records of the files just checksummed (numbers as text: an inode may
    not fit a BIGINT). Not atomic, and need not be: a record missing is a file read again."""
    columns = list(zip(*hashed, strict=True))
    path, size, mtime, ctime, inode, sha = ([str(v) for v in column] for column in columns)
    con.execute(f"DELETE FROM {FILE_FINGERPRINTS} WHERE list_contains(?, path)", [path])
    con.execute(
        f"""
        INSERT INTO {FILE_FINGERPRINTS}
        SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])::BIGINT,
               unnest(?::VARCHAR[])::HUGEINT, unnest(?::VARCHAR[])::HUGEINT,
               unnest(?::VARCHAR[])::HUGEINT, unnest(?::VARCHAR[]), now()::TIMESTAMP
        """,
        [path, size, mtime, ctime, inode, sha],
    )


def _unreadable(path: Path) -> str:
    """Why a file cannot be read, in one line."""
    try:
        file_sha256(path)
    except OSError as error:
        return f"{path.name}: cannot be read ({error.strerror or type(error).__name__})"
    return f"{path.name}: could not be read when the run started"


def _modified(path: Path) -> float:
    try:
        if path.is_dir():
            return max((p.stat().st_mtime for p in path.rglob("*")), default=path.stat().st_mtime)
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _declare_earlier_periods(con, member_id: str, source: Source) -> None:
    """Deliveries loaded before the cooperation declared this entry's period rule get their
    series and period now, so a re-delivery can replace them."""
    if source.period is None:
        return
    undeclared = con.execute(
        "SELECT delivery_id, source_file FROM raw.deliveries "
        "WHERE municipality_id = ? AND series IS NULL AND status = 'loaded'",
        [member_id],
    ).fetchall()
    for delivery_id, source_file in undeclared:
        path = Path(source_file)
        if not fnmatch.fnmatch(str(path), source.pattern):
            continue
        try:
            declared = source.declared_period(path)
        except PeriodError:
            continue
        con.execute(
            "UPDATE raw.deliveries SET series = ?, period = ? WHERE delivery_id = ?",
            [declared.series, declared.period, delivery_id],
        )


def load_member_deliveries(cooperation: Cooperation, member_id: str, log) -> list[DeliveryResult]:
    """Load every delivered file of one member; each file is one delivery."""
    member = cooperation.member(member_id)
    results: list[DeliveryResult] = []
    with connect(cooperation.warehouse) as con:
        create_raw_schema(con)
        for source in member.spend:
            results += _load_source(con, cooperation, member_id, source, log)
    return results


def _load_source(con, cooperation: Cooperation, member_id: str, source: Source, log):
    # a symbolic link or the like in the member's folder: rejected unread, never followed
    results = [
        record_rejection(
            con,
            member_id,
            path,
            source.profile,
            f"{source.shown(path)} {reason}",
            sha=unread_fingerprint(path),
        )
        for path, reason in source.refused()
    ]
    for result in results:
        log.warning(f"{member_id}: rejected: {result.message}")
    try:
        profile = load_profile(source.profile, cooperation.root, cooperation.folders)
    except ProfileError as error:
        log.error(f"{member_id}: {error}")
        for path, sha in delivery_order(source, con):
            message = f"{path.name}: {error}"
            results.append(record_rejection(con, member_id, path, source.profile, message, sha=sha))
        return results
    _declare_earlier_periods(con, member_id, source)
    for path, sha in delivery_order(source, con):
        started = time.monotonic()
        try:
            declared = source.declared_period(path)
        except PeriodError as error:
            result = record_rejection(con, member_id, path, profile.name, str(error), sha=sha)
        else:
            if sha == UNREADABLE:
                result = record_rejection(
                    con, member_id, path, profile.name, _unreadable(path), declared, sha
                )
            else:
                result = load_spend_file(
                    con,
                    path,
                    member_id,
                    profile,
                    cooperation.country,
                    cooperation.currency,
                    declared,
                    sha,
                    limits=cooperation.limits,
                )
        log.info(
            f"{member_id} {path.name}: {result.status}: {result.message} "
            f"({time.monotonic() - started:.1f} s)"
        )
        if result.detail:  # an unexpected error: its traceback for whoever reads the log
            log.debug(f"{member_id} {path.name}:\n{result.detail}")
        results.append(result)
        pause_point("ingest")  # inert outside tests/test_kill_safety.py
    return results


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


def _changed_anything(context: dg.AssetExecutionContext, results: list[DeliveryResult]) -> bool:
    """Whether this member's run is a new materialization of the delivery tables: a file
    was loaded or rejected, or the member's partition was never materialized (so that the
    models downstream, which wait for every member, can be built). A run that only skipped
    files loaded before records an observation instead, and nothing downstream is rebuilt."""
    if any(r.status != "skipped_duplicate" for r in results):
        return True
    records = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(["raw", DELIVERY_TABLES[0]]),
            asset_partitions=[context.partition_key],
        ),
        limit=1,
    )
    return not records.records


def _specs(
    tables: tuple[str, ...], description: str, skippable: bool = False
) -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            ["raw", table],
            group_name=INGEST_GROUP,
            kinds={"duckdb", "python"},
            description=f"raw.{table}: {description}",
            skippable=skippable,
        )
        for table in tables
    ]


def build_ingest_assets(cooperation: Cooperation) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="member_spend",
        specs=_specs(
            DELIVERY_TABLES,
            "one member's spend deliveries, each file loaded with "
            "lineage or rejected with its reason (a run that only finds files loaded before "
            "records an observation, not a materialization)",
            skippable=True,
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
            "rows_excluded": sum(r.rows_excluded for r in results),
            "rejected_deliveries": dg.MetadataValue.md(
                "\n".join(f"- {r.message}" for r in results if r.status == "rejected") or "none"
            ),
            # for `samkjop run`'s summary: a rejection of a file loaded before is not recorded
            REJECTION_MESSAGES: dg.MetadataValue.json(
                [r.message for r in results if r.status == "rejected"]
            ),
        }
        if _changed_anything(context, results):
            for table in DELIVERY_TABLES:
                yield dg.MaterializeResult(asset_key=["raw", table], metadata=summary)
        else:  # only files loaded before: the tables are as they were, nothing to build
            for table in DELIVERY_TABLES:
                yield dg.AssetObservation(
                    asset_key=["raw", table], partition=context.partition_key, metadata=summary
                )
        yield check_loaded_deliveries(cooperation, results)

    @dg.multi_asset(
        name="agreement_register",
        specs=_specs(
            AGREEMENT_TABLES,
            "the cooperation's register of framework agreements, their price lists "
            "(price_lists: in cooperation.yml) and the supplier register (supplier_registers:)",
        ),
        pool=WAREHOUSE_POOL,
    )
    def agreement_register(context: dg.AssetExecutionContext):
        with connect(cooperation.warehouse) as con:
            create_raw_schema(con)
            # the supplier register first: agreements may name its supplier_ids, and price
            # lists are checked against the agreements' suppliers
            register_rows = load_supplier_register(con, cooperation)
            tables = load_agreements(con, cooperation)
            price_rows = load_price_lists(con, cooperation)  # checked against the register
        for problem in tables.invalid_supplier_numbers:
            context.log.warning(
                "agreement supplier that is neither a valid organisation number nor a "
                f"supplier_id of the supplier register: {problem} (it can never match a "
                "spend line)"
            )
        if tables.without_suppliers:
            context.log.warning(
                f"{len(tables.without_suppliers)} agreements name no supplier yet: "
                f"{', '.join(tables.without_suppliers)} (lines they cover can never be "
                "on-agreement until the register names their suppliers)"
            )
        counts = {
            "agreements": len(tables.agreements),
            "agreement_categories": len(tables.categories),
            "agreement_suppliers": len(tables.suppliers),
            "agreement_participants": len(tables.participants),
            "price_list": price_rows,
            "supplier_register": register_rows,
        }
        for table in AGREEMENT_TABLES:
            yield dg.MaterializeResult(
                asset_key=["raw", table],
                metadata={
                    "rows": counts[table],
                    "invalid_supplier_numbers": len(tables.invalid_supplier_numbers),
                    "agreements_without_suppliers": len(tables.without_suppliers),
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
