"""Readers: one module per source format. Each yields text batches; the loader validates."""


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


def reader_for(fmt: str):
    from importlib import import_module

    return import_module(READER_MODULES[fmt])
