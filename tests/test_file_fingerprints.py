"""Only new or changed files are read to be checksummed: raw.file_fingerprints remembers each
file's SHA-256 with its size, modification and change time and inode."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ingest import assets
from pipelines.defs.ingest.assets import UNREADABLE, delivery_order
from pipelines.settings import Source
from pipelines.spend_loader import file_sha256
from pipelines.warehouse import FILE_FINGERPRINTS, RAW_TABLES, create_raw_schema


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The names of the files read to be checksummed."""
    names: list[str] = []

    def counting(path: Path) -> str:
        names.append(path.name)
        return file_sha256(path)

    monkeypatch.setattr(assets, "file_sha256", counting)
    return names


def _source(folder: Path) -> Source:
    return Source(pattern=str(folder / "*.csv"), profile="canonical", where="spend[0]")


def _files(folder: Path, **contents: str) -> None:
    for name, text in contents.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")


def test_unchanged_files_are_not_read_again(con, tmp_path, hashed):
    _files(tmp_path, a="one\n", b="two\n")
    first = delivery_order(_source(tmp_path), con)
    assert sorted(hashed) == ["a.csv", "b.csv"]
    assert dict(first) == {p: file_sha256(p) for p in (tmp_path / "a.csv", tmp_path / "b.csv")}
    hashed.clear()
    assert delivery_order(_source(tmp_path), con) == first
    assert hashed == []
    assert con.execute(f"SELECT count(*) FROM {FILE_FINGERPRINTS}").fetchone()[0] == 2


def test_a_new_or_changed_file_is_read_again(con, tmp_path, hashed):
    _files(tmp_path, a="one\n", b="two\n")
    delivery_order(_source(tmp_path), con)
    hashed.clear()
    _files(tmp_path, b="two, longer\n", c="three\n")
    order = dict(delivery_order(_source(tmp_path), con))
    assert sorted(hashed) == ["b.csv", "c.csv"]
    assert order[tmp_path / "b.csv"] == file_sha256(tmp_path / "b.csv")
    hashed.clear()
    delivery_order(_source(tmp_path), con)
    assert hashed == []
    assert con.execute(f"SELECT count(*) FROM {FILE_FINGERPRINTS}").fetchone()[0] == 3


def test_same_size_with_the_old_modification_time_is_still_read_again(con, tmp_path, hashed):
    """Rewritten in place, same size, its modification time set back: the change time
    (which no one can set back) tells."""
    path = tmp_path / "a.csv"
    _files(tmp_path, a="one\n")
    delivery_order(_source(tmp_path), con)
    before = os.stat(path)
    hashed.clear()
    path.write_text("two\n", encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    order = dict(delivery_order(_source(tmp_path), con))
    assert hashed == ["a.csv"]
    assert order[path] == file_sha256(path)


def test_a_file_replaced_by_another_of_the_same_size_and_time_is_read_again(con, tmp_path, hashed):
    path = tmp_path / "a.csv"
    _files(tmp_path, a="one\n")
    delivery_order(_source(tmp_path), con)
    before = os.stat(path)
    hashed.clear()
    replacement = tmp_path / "new.tmp"
    replacement.write_text("two\n", encoding="utf-8")
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)  # another inode
    assert dict(delivery_order(_source(tmp_path), con))[path] == file_sha256(path)
    assert hashed == ["a.csv"]


def test_without_the_warehouse_every_file_is_read(tmp_path, hashed):
    _files(tmp_path, a="one\n")
    delivery_order(_source(tmp_path))
    delivery_order(_source(tmp_path))
    assert hashed == ["a.csv", "a.csv"]


def test_an_unreadable_file_is_unreadable_and_not_remembered(con, tmp_path, monkeypatch):
    _files(tmp_path, a="one\n", b="two\n")

    def failing(path: Path) -> str:
        if path.name == "b.csv":
            raise PermissionError(13, "Permission denied")
        return file_sha256(path)

    monkeypatch.setattr(assets, "file_sha256", failing)
    order = dict(delivery_order(_source(tmp_path), con))
    assert order[tmp_path / "b.csv"] == UNREADABLE
    assert con.execute(f"SELECT path FROM {FILE_FINGERPRINTS}").fetchall() == [
        (str(tmp_path / "a.csv"),)
    ]
    monkeypatch.setattr(assets, "file_sha256", file_sha256)  # readable again: read now
    assert dict(delivery_order(_source(tmp_path), con))[tmp_path / "b.csv"] == file_sha256(
        tmp_path / "b.csv"
    )


def test_a_folder_delivery_is_checksummed_every_time(con, tmp_path, hashed):
    folder = tmp_path / "invoices.csv"  # a folder of e-invoices, matched by the pattern
    folder.mkdir()
    (folder / "1.xml").write_text("<x/>", encoding="utf-8")
    delivery_order(_source(tmp_path), con)
    delivery_order(_source(tmp_path), con)
    assert hashed == ["invoices.csv", "invoices.csv"]
    assert con.execute(f"SELECT count(*) FROM {FILE_FINGERPRINTS}").fetchone()[0] == 0


def test_a_warehouse_of_an_earlier_version_gets_the_table(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute("CREATE SCHEMA raw")
        for table, columns in RAW_TABLES.items():
            old.execute(f"CREATE TABLE raw.{table} ({columns})")
    with duckdb.connect(str(path)) as con:
        create_raw_schema(con)
        create_raw_schema(con)  # twice: nothing happens
        assert con.execute(f"SELECT count(*) FROM {FILE_FINGERPRINTS}").fetchone() == (0,)
