"""The audit bundle: every audit table of one year (and member) in one zip, with a manifest
of each file's SHA-256, so that an auditor can prove later that nothing was changed.

`samkjop export --bundle FILE.zip --year Y [--municipality ID]` writes it; `samkjop
verify-bundle FILE.zip` checks it. The zip holds each table as a workbook (XLSX, with its
Definitions and About sheets; a table too large for a sheet is left out of the workbooks
and says so in the manifest) and as Parquet (every row, exact decimals), `manifest.json`
(provenance and per file: table, rows, SHA-256) and `SHA256SUMS` (the same checksums, for
`sha256sum -c` without the platform). Entries are written in a fixed order with a fixed
date, so the same snapshot and filters give the same zip, byte for byte."""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.export import (
    XLSX_MAX_ROWS,
    EmptyExport,
    ExportError,
    describe_filters,
    open_snapshot,
    platform_version,
    snapshot_facts,
    write_export,
)

# every table an auditor checks (issue "Stand-alone audit exports"), in the bundle's order
AUDIT_TABLES = (
    "municipality_kpis",
    "category_kpis",
    "spend_lines",
    "threshold_flags",
    "off_agreement_purchases",
    "possible_duplicate_invoices",
    "possible_duplicate_payees",
    "price_deviations",
    "agreement_followup",
    "suppliers",
    "rejected_rows",
    "excluded_rows",
    "delivery_reconciliation",
    "unmapped_codes",
)
BUNDLE_FORMATS = ("xlsx", "parquet")
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
BUNDLE_VERSION = 1


@dataclass
class BundleResult:
    path: Path
    files: int
    rows: dict[str, int]
    skipped: list[str] = field(default_factory=list)  # why a workbook was left out


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_bundle(
    snapshot: Path,
    target: Path,
    year: int,
    municipality: str | None = None,
    language: str | None = None,
    allow_empty: bool = False,
) -> BundleResult:
    con = open_snapshot(snapshot)
    try:
        facts = snapshot_facts(con, snapshot)
        with tempfile.TemporaryDirectory(prefix="samkjop-bundle-", dir=target.parent) as folder:
            files: list[dict] = []
            rows: dict[str, int] = {}
            skipped: list[str] = []
            for table in AUDIT_TABLES:
                member = municipality if _per_municipality(table) else None
                for fmt in BUNDLE_FORMATS:
                    path = Path(folder) / f"{table}.{fmt}"
                    try:
                        result = write_export(
                            con,
                            facts,
                            table,
                            fmt,
                            path,
                            member,
                            year,
                            language,
                            allow_empty=True,
                            sidecar=False,
                        )
                    except EmptyExport:  # never: allow_empty
                        raise
                    except ExportError as error:
                        if fmt == "xlsx" and "do not fit in an Excel sheet" in str(error):
                            skipped.append(
                                f"{table}.xlsx: more than {XLSX_MAX_ROWS:,} rows; "
                                f"see {table}.parquet"
                            )
                            continue
                        raise
                    rows[table] = result.rows
                    manifest = dict(result.manifest)
                    manifest.pop("snapshot", None)  # once, at the top of the bundle's manifest
                    manifest.pop("exported_by", None)
                    files.append(manifest)
            if not allow_empty and not rows.get("spend_lines"):
                raise EmptyExport(
                    f"no spend lines match {describe_filters(municipality, year)} in snapshot "
                    f"{snapshot}: no bundle written (--allow-empty writes it anyway)"
                )
            manifest = {
                "bundle_version": BUNDLE_VERSION,
                "cooperation": facts.cooperation,
                "currency": facts.currency,
                "filters": {"municipality": municipality, "year": year},
                "snapshot": facts.as_dict(),
                "exported_by": platform_version(),
                "files": files,
                "skipped": skipped,
                "how_to_verify": f"sha256sum -c {CHECKSUMS} (after unzipping), or "
                "`samkjop verify-bundle FILE.zip`",
            }
            _write_zip(target, Path(folder), files, manifest, facts.created.timetuple()[:6])
    finally:
        con.close()
    return BundleResult(target, len(files), rows, skipped)


def _per_municipality(table: str) -> bool:
    from pipelines.export import EXPORT_TABLES

    return EXPORT_TABLES[table].per_municipality


def _write_zip(target: Path, folder: Path, files: list[dict], manifest: dict, when) -> None:
    checksums = "".join(f"{entry['sha256']}  {entry['file']}\n" for entry in files)
    document = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    temporary = target.with_name(f".{target.name}.writing")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as bundle:
        for entry in files:
            _add(bundle, entry["file"], (folder / entry["file"]).read_bytes(), when)
        _add(bundle, CHECKSUMS, checksums.encode("utf-8"), when)
        _add(bundle, MANIFEST, (document + "\n").encode("utf-8"), when)
    temporary.replace(target)


def _add(bundle: zipfile.ZipFile, name: str, data: bytes, when) -> None:
    info = zipfile.ZipInfo(name, date_time=when)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    bundle.writestr(info, data)


@dataclass
class Verification:
    manifest_sha256: str | None = None
    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.extra or self.problems)


def verify_bundle(path: Path) -> Verification:
    """Every file the manifest lists is in the zip with its SHA-256, nothing else is, and
    SHA256SUMS says the same as the manifest."""
    outcome = Verification()
    try:
        bundle = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        outcome.problems.append(f"{path}: not a readable zip file ({error})")
        return outcome
    with bundle:
        names = set(bundle.namelist())
        if MANIFEST not in names:
            outcome.problems.append(f"{path}: no {MANIFEST}: not an audit bundle")
            return outcome
        raw = bundle.read(MANIFEST)
        outcome.manifest_sha256 = _sha256(raw)
        try:
            listed = {entry["file"]: entry["sha256"] for entry in json.loads(raw)["files"]}
        except (ValueError, KeyError, TypeError) as error:
            outcome.problems.append(f"{path}: {MANIFEST} cannot be read ({error})")
            return outcome
        for name, expected in sorted(listed.items()):
            if name not in names:
                outcome.missing.append(name)
                continue
            outcome.checked += 1
            if _sha256(bundle.read(name)) != expected:
                outcome.changed.append(name)
        outcome.extra = sorted(names - set(listed) - {MANIFEST, CHECKSUMS})
        if CHECKSUMS not in names:
            outcome.missing.append(CHECKSUMS)
        else:
            sums = {}
            for line in bundle.read(CHECKSUMS).decode("utf-8", "replace").splitlines():
                digest, _, name = line.partition("  ")
                sums[name] = digest
            if sums != listed:
                outcome.changed.append(f"{CHECKSUMS} (does not match {MANIFEST})")
    return outcome
