"""Streamlit pieces every page shares: the reader's language, the snapshot guard, the
filters kept in the URL (st.query_params, so a view can be shared as a link), the help
expander with definitions and sources, and the download buttons.

Every text comes from the catalogues (dashboards/i18n.py) through `t`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import duckdb
import pandas as pd
import streamlit as st

from dashboards import downloads, queries
from dashboards.formatting import format_date, format_percent, is_missing
from dashboards.i18n import LANGUAGES, default_language, translate

LANGUAGE_ENV = "SAMKJOP_LANGUAGE"  # set by `samkjop dashboards` from cooperation.language
LANGUAGE_PARAM = "lang"
YEAR_PARAM = "year"
MEMBER_PARAM = "member"


# --- Language ------------------------------------------------------------------------------


def _snapshot_country() -> str | None:
    try:
        return str(queries.cooperation(queries.locate_snapshot())["country"])
    except (queries.SnapshotUnavailable, duckdb.Error, KeyError):
        return None


def configured_language() -> str:
    """The cooperation's language: SAMKJOP_LANGUAGE (cooperation.language, passed by
    `samkjop dashboards`), else the snapshot's country's (NO: nb, DK: da, else en)."""
    configured = os.environ.get(LANGUAGE_ENV, "").strip()
    if configured in LANGUAGES:
        return configured
    return default_language(_snapshot_country())


def language() -> str:
    """The reader's language: the URL's `lang`, else the one chosen in this session, else
    the cooperation's."""
    chosen = st.query_params.get(LANGUAGE_PARAM)
    if chosen in LANGUAGES:
        st.session_state[LANGUAGE_PARAM] = chosen
        return chosen
    remembered = st.session_state.get(LANGUAGE_PARAM)
    if remembered in LANGUAGES:
        st.query_params[LANGUAGE_PARAM] = remembered
        return remembered
    return configured_language()


def t(key: str, **values: Any) -> str:
    """The text of `key` in the reader's language."""
    return translate(key, language(), **values)


def language_switch() -> str:
    """The sidebar's language choice; kept in the URL (`?lang=nb`) and the session."""
    current = language()
    chosen = st.sidebar.selectbox(
        t("app.language"),
        LANGUAGES,
        index=LANGUAGES.index(current),
        format_func=lambda code: translate("app.language_name", code),
        key="language_switch",
    )
    if chosen != current:
        st.session_state[LANGUAGE_PARAM] = chosen
        st.query_params[LANGUAGE_PARAM] = chosen
        st.rerun()
    st.query_params[LANGUAGE_PARAM] = chosen
    return chosen


def metric_name(metric: str) -> str:
    return t(f"metric.{metric}.name")


def metric_definition(metric: str) -> str:
    return t(f"metric.{metric}.definition")


# --- Snapshot guard ------------------------------------------------------------------------


def require_snapshot() -> queries.Snapshot:
    """The snapshot to read; otherwise explain what to do and stop the page (no traceback)."""
    try:
        snapshot = queries.locate_snapshot()
        missing = queries.missing_columns(snapshot)
    except queries.SnapshotUnavailable as problem:
        _stop(str(problem))
    if missing:
        _stop(
            t(
                "common.snapshot_lacks",
                missing=", ".join(f"`{name}`" for name in missing),
            )
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
        t(
            "common.section_lacks",
            table=table,
            missing=", ".join(f"`{name}`" for name in missing),
            command=queries.RUN_COMMAND,
        ),
        icon=":material/database_off:",
    )
    return True


def _stop(problem: str) -> NoReturn:
    st.error(problem, icon=":material/database_off:")
    st.info(t("common.run_first", command=queries.RUN_COMMAND), icon=":material/info:")
    st.stop()


def published_text(snapshot: queries.Snapshot) -> str:
    """'Data published 31 Jan 2025 14:05', or a note that the time is unknown. Never a
    path: the warehouse's file name is for the procurement unit's status, not the reader."""
    try:
        info = queries.snapshot_info(snapshot)
    except duckdb.Error:  # an older or broken snapshot: the page's guard says what is wrong
        return t("common.published_unknown")
    if not info or is_missing(info.get("published_at")):
        return t("common.published_unknown")
    published: Any = info["published_at"]
    clock = published.strftime("%H:%M") if hasattr(published, "strftime") else ""
    return t("common.published", date=format_date(published, language()), time=clock)


# --- Filters kept in the URL ---------------------------------------------------------------


def url_select(
    label: str,
    options: Sequence[Any],
    param: str,
    key: str,
    default_index: int = 0,
    format_func: Callable[[Any], str] = str,
    container: Any = st,
    **widget: Any,
) -> Any:
    """A selectbox whose value is also `?param=` in the URL: a link opens the same view."""
    if not options:
        return None
    index = default_index
    wanted = st.query_params.get(param)
    if wanted is not None:
        for position, option in enumerate(options):
            if str(option) == wanted:
                index = position
    value = container.selectbox(
        label, options, index=index, key=key, format_func=format_func, **widget
    )
    st.query_params[param] = str(value)
    return value


def year_selector(choice: queries.YearChoice, key: str, container: Any = st, **options) -> int:
    """The page's year (in the URL as ?year=): opens on the default year (the latest in
    which every member delivered all twelve months), marks partial years, and says so when
    one is chosen."""
    # texts computed here: a format_func may also be called outside the script run
    names = {
        y: t("common.year_partial", year=y) if y in choice.partial else str(y) for y in choice.years
    }
    year = url_select(
        t("common.year"),
        choice.years,
        YEAR_PARAM,
        key,
        default_index=choice.default_index,
        format_func=names.__getitem__,
        container=container,
        **options,
    )
    if year in choice.partial:
        st.warning(
            t("common.partial_year", year=year, **choice.partial[year]),
            icon=":material/hourglass_bottom:",
        )
    return year


def member_selector(
    members: pd.DataFrame,
    key: str,
    with_all: bool = True,
    container: Any = st,
    **options: Any,
) -> str:
    """A member (or the whole cooperation), by name; in the URL as ?member=<id>."""
    labels = member_labels(members, with_all=with_all)
    return url_select(
        t("common.member"),
        list(labels),
        MEMBER_PARAM,
        key,
        format_func=labels.__getitem__,
        container=container,
        **options,
    )


def member_labels(members: pd.DataFrame, with_all: bool = True) -> dict[str, str]:
    """municipality_id -> name ('(host)' marked), the whole cooperation first."""
    labels = {queries.ALL: t("common.whole_cooperation")} if with_all else {}
    for row in members.itertuples():
        name = (
            row.municipality_name if not is_missing(row.municipality_name) else row.municipality_id
        )
        labels[row.municipality_id] = (
            t("common.host_member", name=name) if bool(row.is_host) else str(name)
        )
    return labels


# --- Reading aids ---------------------------------------------------------------------------


def about(metrics: Iterable[str], marts: Iterable[str], notes: Iterable[str] = ()) -> None:
    """The help expander under a section: what its figures mean, then where they come
    from (the marts, for the procurement unit)."""
    with st.expander(t("common.about"), icon=":material/help:"):
        for metric in metrics:
            st.markdown(f"**{metric_name(metric)}**: {metric_definition(metric)}")
        for note in notes:
            st.markdown(note)
        st.caption(t("common.sources", marts=", ".join(f"`marts.{m}`" for m in marts)))


def chart(container: Any, figure: Any, **options: Any) -> Any:
    """Draw an Altair chart in the reader's number format (charts.localised)."""
    from dashboards.charts import localised

    return container.altair_chart(localised(figure, language()), **options)


def pct(value: Any, digits: int = 1) -> str:
    return format_percent(value, language(), digits)


def download_buttons(
    snapshot: queries.Snapshot,
    table: str,
    key: str,
    municipality: str | None = None,
    year: int | None = None,
    **filters: Any,
) -> None:
    """'Download CSV' and 'Download Excel': the whole table `table` of `samkjop export`
    with the page's member and year, not only the rows shown; or, for a table of payees on
    a council page, its council view (pipelines.export.COUNCIL_VIEWS) with the page's
    `filters` too (category, search, supplier), private persons as the page shows them."""
    row = st.container(horizontal=True)
    for fmt in downloads.FORMATS:
        row.download_button(
            t(f"common.download_{fmt}"),
            data=lambda fmt=fmt: downloads.download_bytes(
                snapshot.path, table, fmt, municipality, year, language(), **filters
            )[1],
            file_name=downloads.file_name(table, fmt, municipality, year, **filters),
            mime=downloads.MIME_TYPES[fmt],
            key=f"{key}_{fmt}",
            on_click="ignore",
            icon=":material/download:",
        )


def target_delta(value: Any, target: Any) -> dict[str, Any]:
    """st.metric arguments comparing a ratio with its target (nothing when either is NULL)."""
    from dashboards.formatting import format_points

    if is_missing(value) or is_missing(target):
        return {}
    return {
        "delta": format_points(float(value) - float(target), language()),
        "delta_description": t("common.vs_target", target=pct(target)),
    }
