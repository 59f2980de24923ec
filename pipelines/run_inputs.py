"""What a run reads, summed up in one fingerprint, so that a run with nothing new does no
ingestion, no build and no publish.

The fingerprint covers every file a run could read: the cooperation.yml, each source's
matches (member deliveries, agreement registers, price lists, supplier registers; a match
that is refused unread counts too), the profiles and the files next to them (mappings),
the reference files, the shipped data contracts, the dbt project and the platform's own
code. A file is known by its path, size and modification time (nanoseconds), not by its
content: reading 600 MB of deliveries again is what this avoids. A file rewritten with the
same size and modification time is therefore not noticed; `samkjop run --full` runs
everything regardless.

After a run has published, `record_published` writes the fingerprint taken when the run
started (files that arrive during a run are new to the next one), the snapshot's identity
and the run's exit code to `<state folder>/last_publish.json`. `unchanged_since_publish`
compares them at the start of the next run.

The same record keeps each member's own fingerprint (`member_fingerprints`: everything
above but the other members' deliveries) and the warehouse's identity as the run left it.
When another member delivers, a member whose fingerprint is unchanged is not read again
(`unchanged_members`), provided the warehouse is the one that run left and the member has
no rejected file, which each run tries again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pipelines.profiles import resolve_profile_path
from pipelines.settings import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    REFERENCE_DATASETS,
    Cooperation,
    Source,
)

RECORD_NAME = "last_publish.json"
_PLATFORM_TREES = (
    PROJECT_ROOT / "pipelines",
    PROJECT_ROOT / "data_contracts",
    DBT_PROJECT_DIR / "models",
    DBT_PROJECT_DIR / "macros",
    DBT_PROJECT_DIR / "seeds",
    DBT_PROJECT_DIR / "tests",
    DBT_PROJECT_DIR / "snapshots",
)
_PLATFORM_FILES = (DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "packages.yml")
_SKIPPED_PARTS = {"__pycache__", "target", "logs", "dbt_packages"}


@dataclass(frozen=True)
class Published:
    """What the last run that published left: its inputs, the snapshot it wrote, its exit
    code and when it started."""

    fingerprint: str
    snapshot: tuple[int, int] | None
    exit_code: int
    started: str
    members: dict[str, str] = field(default_factory=dict)
    warehouse: tuple[int, int, int] | None = None

    @property
    def started_text(self) -> str:
        return self.started.replace("T", " ")[:16]


def _stat_line(path: Path) -> str:
    try:
        stat = os.lstat(path)
    except OSError:
        return f"{path}\0missing"
    return f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_mode}"


def _tree(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        yield folder
        return
    for parent, folders, names in os.walk(folder):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED_PARTS)
        for name in sorted(names):
            yield Path(parent) / name


def _source_matches(sources: Iterable[Source]) -> Iterator[Path]:
    for source in sources:
        for path in source.files():
            yield from _tree(path)  # a folder of e-invoices is one delivery
        yield from (path for path, _ in source.refused())


def _profile_files(cooperation: Cooperation) -> Iterator[Path]:
    references = {s.profile for m in cooperation.members for s in m.spend}
    for reference in sorted(references):
        profile = resolve_profile_path(reference, cooperation.root)
        yield profile
        if profile.parent.is_dir():  # its mapping files are next to it
            yield from sorted(p for p in profile.parent.iterdir() if p.is_file())


def _inputs(cooperation: Cooperation) -> Iterator[Path]:
    """Every file a run reads."""
    yield cooperation.config_path
    yield from _source_matches(s for m in cooperation.members for s in m.spend)
    yield from _not_deliveries(cooperation)


def _not_deliveries(cooperation: Cooperation) -> Iterator[Path]:
    """Every file a run reads but the cooperation.yml and the members' deliveries."""
    yield from _source_matches(cooperation.agreements)
    yield from _source_matches(cooperation.price_lists)
    yield from _source_matches(cooperation.supplier_registers)
    yield from _profile_files(cooperation)
    yield from (cooperation.reference_file(dataset) for dataset in REFERENCE_DATASETS)
    yield from _platform_paths()


def _platform_paths() -> Iterator[Path]:
    """The platform's own code: pipelines, data contracts and the dbt project."""
    yield from _PLATFORM_FILES
    for tree in _PLATFORM_TREES:
        yield from _tree(tree)


def platform_stat_lines() -> Iterator[str]:
    """Path, size and modification time of every file of the platform's code."""
    return (_stat_line(path) for path in _platform_paths())


def _digest(stat_lines: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for line in stat_lines:
        digest.update(line.encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


def fingerprint(cooperation: Cooperation) -> str:
    """The SHA-256 of every input's path, size and modification time, in a fixed order."""
    return _digest(map(_stat_line, _inputs(cooperation)))


def member_fingerprints(cooperation: Cooperation) -> dict[str, str]:
    """Per member, the fingerprint of what loading its deliveries reads: its own deliveries
    and everything that is not a delivery (settings, profiles, reference files, code), the
    latter looked at once for all members."""
    settings = _stat_line(cooperation.config_path)
    shared = [_stat_line(path) for path in _not_deliveries(cooperation)]
    return {
        member.id: _digest([settings, *map(_stat_line, _source_matches(member.spend)), *shared])
        for member in cooperation.members
    }


def warehouse_identity(warehouse: Path) -> tuple[int, int, int] | None:
    """The warehouse file's inode, modification time and size: any write changes it."""
    try:
        stat = warehouse.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def snapshot_identity(snapshot: Path) -> tuple[int, int] | None:
    """The published snapshot's inode and modification time: it changes when a run
    publishes (the file is replaced) and when someone else touches it."""
    try:
        stat = snapshot.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _record_path(cooperation: Cooperation) -> Path:
    return cooperation.state_dir / RECORD_NAME


def record_published(
    cooperation: Cooperation,
    run_fingerprint: str,
    exit_code: int,
    started: datetime,
    members: dict[str, str] | None = None,
) -> None:
    """After a run that published: what it read (in all and per member, taken when it
    started), what it wrote and how it ended."""
    record = Published(
        run_fingerprint,
        snapshot_identity(cooperation.snapshot),
        exit_code,
        started.isoformat(),
        dict(members or {}),
        warehouse_identity(cooperation.warehouse),
    )
    path = _record_path(cooperation)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(asdict(record)), encoding="utf-8")
    temporary.replace(path)


def forget_published(cooperation: Cooperation) -> None:
    """A run that failed or was stopped: the next one does everything again."""
    _record_path(cooperation).unlink(missing_ok=True)


def last_published(cooperation: Cooperation) -> Published | None:
    try:
        data = json.loads(_record_path(cooperation).read_text(encoding="utf-8"))
        snapshot = tuple(data["snapshot"]) if data.get("snapshot") else None
        warehouse = tuple(data["warehouse"]) if data.get("warehouse") else None
        members = {str(m): str(f) for m, f in dict(data.get("members") or {}).items()}
        return Published(
            data["fingerprint"],
            snapshot,
            int(data["exit_code"]),
            data["started"],
            members,
            warehouse,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unchanged_since_publish(cooperation: Cooperation) -> Published | None:
    """The last publishing run, when nothing it read has changed since and its snapshot is
    still the published one; None when this run has something to do."""
    published = last_published(cooperation)
    if published is None or published.snapshot is None:
        return None
    if snapshot_identity(cooperation.snapshot) != published.snapshot:
        return None
    return published if fingerprint(cooperation) == published.fingerprint else None


def unchanged_members(cooperation: Cooperation, current: dict[str, str]) -> set[str]:
    """The members whose deliveries need not be read again: their fingerprint (`current`,
    from member_fingerprints) is the one the last publishing run recorded, the warehouse
    is still as that run left it, and none of their files was rejected (a rejected file
    is tried again by every run: a date that was too far ahead may not be any more)."""
    published = last_published(cooperation)
    if published is None or published.warehouse is None:
        return set()
    if warehouse_identity(cooperation.warehouse) != published.warehouse:
        return set()
    same = {m for m, print_ in current.items() if published.members.get(m) == print_}
    retried = _members_with_rejected_files(cooperation.warehouse) if same else set()
    return set() if retried is None else same - retried


def _members_with_rejected_files(warehouse: Path) -> set[str] | None:
    """None when the warehouse cannot be read: then every member is read again."""
    import duckdb

    from pipelines.warehouse import connect

    try:
        with connect(warehouse, read_only=True) as con:
            rows = con.execute(
                "SELECT DISTINCT municipality_id FROM raw.deliveries WHERE status = 'rejected'"
            ).fetchall()
    except duckdb.Error:
        return None
    return {member for (member,) in rows}
