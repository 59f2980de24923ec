"""A run with nothing new does nothing: what counts as new (pipelines.run_inputs)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.run_inputs import (
    fingerprint,
    forget_published,
    member_fingerprints,
    record_published,
    unchanged_members,
    unchanged_since_publish,
)
from pipelines.settings import load_config
from pipelines.warehouse import connect, create_raw_schema
from tests.conftest import write_innherred, write_innherred_with_supplier_register


@pytest.fixture
def published(tmp_path):
    """The example cooperation after a run that published (exit code 2) a snapshot."""
    config = load_config(write_innherred(tmp_path))
    config.snapshot.parent.mkdir(parents=True, exist_ok=True)
    config.snapshot.write_bytes(b"a snapshot")
    record_published(config, fingerprint(config), 2, datetime(2026, 11, 2, 6, 30))
    return config


def _touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_nothing_changed_gives_the_publishing_run(published):
    unchanged = unchanged_since_publish(published)
    assert unchanged is not None
    assert (unchanged.exit_code, unchanged.started_text) == (2, "2026-11-02 06:30")


@pytest.mark.parametrize(
    "changed",
    ["spend_5037.csv", "agreements.csv", "cooperation.yml", "classification_rules.csv"],
)
def test_a_changed_input_file_means_work(published, changed):
    _touch(published.root / changed)
    assert unchanged_since_publish(published) is None


def test_a_new_delivery_matching_a_glob_means_work(published):
    config_path = published.config_path
    config_path.write_text(
        config_path.read_text(encoding="utf-8").replace(
            "path: spend_5037.csv", "path: spend_5037*.csv"
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)
    record_published(config, fingerprint(config), 0, datetime(2026, 11, 2))
    assert unchanged_since_publish(config) is not None
    (config.root / "spend_5037_2024-09.csv").write_text("new", encoding="utf-8")
    assert unchanged_since_publish(config) is None


def test_a_replaced_snapshot_means_work(published):
    published.snapshot.unlink()
    published.snapshot.write_bytes(b"someone else's snapshot")
    assert unchanged_since_publish(published) is None


def test_a_run_that_did_not_publish_forgets_the_record(published):
    forget_published(published)
    assert unchanged_since_publish(published) is None


def test_a_damaged_record_means_work(published):
    (published.state_dir / "last_publish.json").write_text("{not json", encoding="utf-8")
    assert unchanged_since_publish(published) is None


@pytest.fixture
def two_members(tmp_path):
    """Innherred's two members after a run that published, its warehouse as it left it
    (with one loaded delivery record per member)."""
    config = load_config(write_innherred_with_supplier_register(tmp_path))
    _record_deliveries(config, [("5037", "loaded"), ("5038", "loaded")])
    config.snapshot.write_bytes(b"a snapshot")
    record_published(
        config, fingerprint(config), 0, datetime(2026, 12, 1), member_fingerprints(config)
    )
    return config


def _record_deliveries(config, statuses: list[tuple[str, str]]) -> None:
    with connect(config.warehouse) as con:
        create_raw_schema(con)
        for number, (member, status) in enumerate(statuses):
            con.execute(
                "INSERT INTO raw.deliveries (delivery_id, municipality_id, source_file, "
                "file_sha256, profile, rows_read, rows_loaded, rows_rejected, status, loaded_at)"
                " VALUES (?, ?, 'f.csv', 'sha', 'canonical', 1, 1, 0, ?, now())",
                [f"d{number}", member, status],
            )


def test_members_with_nothing_new_are_not_read_again(two_members):
    assert unchanged_members(two_members, member_fingerprints(two_members)) == {"5037", "5038"}


def test_a_members_new_file_means_only_that_member_is_read(two_members):
    _touch(two_members.root / "spend_5038.csv")
    assert unchanged_members(two_members, member_fingerprints(two_members)) == {"5037"}


@pytest.mark.parametrize("changed", ["cooperation.yml", "classification_rules.csv"])
def test_settings_or_reference_data_mean_every_member_is_read(two_members, changed):
    _touch(two_members.root / changed)
    assert unchanged_members(two_members, member_fingerprints(two_members)) == set()


def test_a_warehouse_written_since_means_every_member_is_read(two_members):
    with connect(two_members.warehouse) as con:
        con.execute("CREATE TABLE raw.someone_elses AS SELECT 1 AS x")
    assert unchanged_members(two_members, member_fingerprints(two_members)) == set()


def test_a_missing_warehouse_means_every_member_is_read(two_members):
    two_members.warehouse.unlink()
    assert unchanged_members(two_members, member_fingerprints(two_members)) == set()


def test_a_member_with_a_rejected_file_is_read_again(tmp_path):
    config = load_config(write_innherred_with_supplier_register(tmp_path))
    _record_deliveries(config, [("5037", "loaded"), ("5038", "rejected")])
    record_published(
        config, fingerprint(config), 2, datetime(2026, 12, 1), member_fingerprints(config)
    )
    assert unchanged_members(config, member_fingerprints(config)) == {"5037"}


def test_a_record_without_member_fingerprints_means_every_member_is_read(two_members):
    record_published(two_members, fingerprint(two_members), 0, datetime(2026, 12, 1))
    assert unchanged_members(two_members, member_fingerprints(two_members)) == set()
