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
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
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
    yield cooperation.config_path
    yield from _source_matches(s for m in cooperation.members for s in m.spend)
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


def fingerprint(cooperation: Cooperation) -> str:
    """The SHA-256 of every input's path, size and modification time, in a fixed order."""
    digest = hashlib.sha256()
    for path in _inputs(cooperation):
        digest.update(_stat_line(path).encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    return digest.hexdigest()


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
    cooperation: Cooperation, run_fingerprint: str, exit_code: int, started: datetime
) -> None:
    """After a run that published: what it read, what it wrote and how it ended."""
    record = Published(
        run_fingerprint, snapshot_identity(cooperation.snapshot), exit_code, started.isoformat()
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
        return Published(data["fingerprint"], snapshot, int(data["exit_code"]), data["started"])
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
