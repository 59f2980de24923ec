"""Streamlit pieces every page shares: the snapshot guard and the publication caption."""

from __future__ import annotations

from typing import Any, NoReturn

import duckdb
import streamlit as st

from dashboards import queries
from dashboards.formatting import is_missing


def require_snapshot() -> queries.Snapshot:
    """The snapshot to read; otherwise explain what to do and stop the page (no traceback)."""
    try:
        snapshot = queries.locate_snapshot()
        missing = queries.missing_columns(snapshot)
    except queries.SnapshotUnavailable as problem:
        _stop(str(problem))
    if missing:
        _stop(
            f"The data snapshot `{snapshot.path}` lacks what this dashboard reads: "
            + ", ".join(f"`{name}`" for name in missing)
            + ". It was probably published by an older version of the pipeline."
        )
    return snapshot


def mart_missing(snapshot: queries.Snapshot, table: str) -> bool:
    """Whether the snapshot lacks `table` or a column of it that its page section reads
    (queries.FOLLOWUP_COLUMNS). If so, say which and what to run; the caller skips the
    section and the rest of the page is still drawn."""
    missing = queries.missing_columns(snapshot, {table: queries.FOLLOWUP_COLUMNS[table]})
    if not missing:
        return False
    st.warning(
        f"This section reads `{table}`, but the data snapshot `{snapshot.path}` lacks "
        + ", ".join(f"`{name}`" for name in missing)
        + f". It was probably published by an older version of the pipeline: run "
        f"`{queries.RUN_COMMAND}` again.",
        icon=":material/database_off:",
    )
    return True


def year_selector(choice: queries.YearChoice, key: str, container: Any = st, **options) -> int:
    """The page's year: opens on the default year (the latest in which every member
    delivered all twelve months), marks partial years, and says so when one is chosen."""
    year = container.selectbox(
        "Year (år)",
        choice.years,
        index=choice.default_index,
        key=key,
        format_func=lambda y: f"{y} (partial)" if y in choice.partial else str(y),
        **options,
    )
    if year in choice.partial:
        st.warning(
            f"{year} is a partial year: {choice.partial[year]}. "
            "The figures cover what was delivered."
        )
    return year


def _stop(problem: str) -> NoReturn:
    st.error(problem, icon=":material/database_off:")
    st.info(
        f"Run the pipeline first: `{queries.RUN_COMMAND}` builds the warehouse and publishes "
        "the read-only snapshot this dashboard reads. Then start the dashboards with "
        "`samkjop dashboards --config cooperation.yml` (or reload this page).",
        icon=":material/info:",
    )
    st.stop()


def published_text(snapshot: queries.Snapshot) -> str:
    """'Data published 2025-01-31 14:05 (warehouse …)', or a note that the time is unknown."""
    try:
        info = queries.snapshot_info(snapshot)
    except duckdb.Error:  # an older or broken snapshot: the page's guard says what is wrong
        return "Data published: unknown (marts.snapshot_info unreadable)"
    if not info or is_missing(info.get("published_at")):
        return "Data published: unknown (marts.snapshot_info is empty)"
    published: Any = info["published_at"]
    stamp = published.strftime("%Y-%m-%d %H:%M") if hasattr(published, "strftime") else published
    warehouse = info.get("warehouse")
    suffix = "" if is_missing(warehouse) or not warehouse else f" from warehouse `{warehouse}`"
    return f"Data published {stamp}{suffix}"
