"""Readers: one module per source format. Each yields text batches; the loader validates."""


class DeliveryRejected(Exception):
    """A whole delivery cannot be used (unreadable, empty, missing column). The message names
    the file and the problem; the member's earlier data stays as it was."""
