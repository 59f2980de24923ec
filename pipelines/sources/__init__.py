"""Readers: one module per source format. Each yields text batches; the loader validates."""

from __future__ import annotations

from functools import partial
from types import SimpleNamespace


class DeliveryRejected(Exception):
    """A whole delivery cannot be used (unreadable, empty, missing column). The message names
    the file and the problem; the member's earlier data stays as it was."""


# profile `format` -> reader module (each has read_header and iter_batches)
READER_MODULES = {
    "csv": "pipelines.sources.csv_file",
    "xlsx": "pipelines.sources.xlsx_file",
    "ehf": "pipelines.sources.ehf",
    "saf-t": "pipelines.sources.saft",
}
# formats whose delivery may be a folder of files (read together as one delivery)
FOLDER_FORMATS = ("ehf", "saf-t")
# readers bounded by the cooperation's `limits:` (their read_header and iter_batches take a
# keyword `limits`, a pipelines.settings.Limits)
BOUNDED_FORMATS = ("xlsx", "ehf")


def reader_for(fmt: str, limits=None):
    """The reader of a format; with `limits`, a bounded reader gets them on every call."""
    from importlib import import_module

    module = import_module(READER_MODULES[fmt])
    if limits is None or fmt not in BOUNDED_FORMATS:
        return module
    return SimpleNamespace(
        read_header=partial(module.read_header, limits=limits),
        iter_batches=partial(module.iter_batches, limits=limits),
    )


def grouped(number: int) -> str:
    """A number in messages, its digits grouped in threes: 2 400 000 000."""
    return f"{number:,}".replace(",", " ")
