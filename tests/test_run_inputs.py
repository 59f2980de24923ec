"""A run with nothing new does nothing: what counts as new (pipelines.run_inputs)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.run_inputs import (
    fingerprint,
    forget_published,
    record_published,
    unchanged_since_publish,
)
from pipelines.settings import load_config
from tests.conftest import write_innherred


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
