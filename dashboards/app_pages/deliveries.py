"""Data status (datastatus) for the host's procurement unit: per member its last
delivery, the period it declared, whether it is overdue, deliveries and rows rejected,
account codes without a known KOSTRA art, and how complete the chosen year is.

UI only: the overdue decision is pipelines.freshness's (the spend contract's SLA, the same
one Dagster's freshness checks and `samkjop status` use), on the published snapshot's
delivery_reconciliation. File names only, never server paths.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.formatting import (
    format_amount,
    format_date,
    format_month,
    format_number,
    is_missing,
)
from dashboards.ui import pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("page.status.heading", name=cooperation["cooperation_name"]))
st.caption(ui.published_text(snapshot))


def when(value: Any) -> str:
    if is_missing(value):
        return t("page.status.never")
    return f"{format_date(value, language)} {value:%H:%M}"


if not ui.mart_missing(snapshot, "marts.delivery_reconciliation"):
    status = queries.delivery_status(snapshot)
    overdue = status[status["is_overdue"]]
    if overdue.empty:
        st.success(t("page.status.all_on_time"), icon=":material/check_circle:")
    else:
        st.error(
            t("page.status.overdue", names=", ".join(overdue["municipality_name"])),
            icon=":material/schedule:",
        )
    table = pd.DataFrame(
        {
            t("common.member"): status["municipality_name"],
            t("page.status.state"): status["is_overdue"].map(
                lambda late: (
                    t("page.status.state_overdue") if late else t("page.status.state_on_time")
                )
            ),
            t("page.status.last_accepted"): status["last_accepted"].map(when),
            t("page.status.file"): status["last_file"].fillna("–"),
            t("page.status.period"): status["last_period"].fillna("–"),
            t("page.status.due"): status["due"].map(lambda v: format_date(v, language)),
            t("page.status.rejected_deliveries"): status["rejected_deliveries"].map(
                lambda v: format_number(v, language)
            ),
            t("page.status.last_rejection"): status["last_rejection"].fillna("–"),
        }
    )
    st.dataframe(
        table,
        hide_index=True,
        key="status_deliveries",
        column_config={t("page.status.last_rejection"): st.column_config.TextColumn(width="large")},
    )
    ui.download_buttons(snapshot, "delivery_reconciliation", "status_deliveries_download")

choice = queries.year_choice(snapshot)
if choice.years and queries.has_tables(
    snapshot, "marts.data_completeness", "marts.rejected_rows", "marts.unmapped_codes"
):
    st.subheader(t("page.status.year_heading"))
    year = ui.year_selector(choice, key="status_year", width=220)
    figures = queries.data_status(snapshot, year)
    st.dataframe(
        pd.DataFrame(
            {
                t("common.member"): figures["municipality_name"],
                t("page.status.months"): figures["months_with_spend"].map(
                    lambda v: "0" if is_missing(v) else format_number(v, language)
                ),
                t("page.status.first_month"): figures["first_month"].map(
                    lambda v: format_month(v, language)
                ),
                t("page.status.last_month"): figures["last_month"].map(
                    lambda v: format_month(v, language)
                ),
                t("page.status.complete"): figures["is_complete_year"].map(
                    lambda v: t("common.yes") if v is True or v == 1 else t("common.no")
                ),
                t("page.status.rejected_rows"): figures["rejected_rows"].map(
                    lambda v: format_number(v, language)
                ),
                t("page.status.unmapped_codes"): figures["unmapped_codes"].map(
                    lambda v: format_number(v, language)
                ),
                t("page.status.unmapped_amount"): figures["unmapped_amount"].map(
                    lambda v: format_amount(v, currency, language)
                ),
                t("page.status.unmapped_share"): figures["unmapped_share"].map(pct),
            }
        ),
        hide_index=True,
        key="status_year_table",
    )
    left, right = st.columns(2)
    with left:
        st.caption(t("page.status.download_rejected"))
        ui.download_buttons(snapshot, "rejected_rows", "status_rejected_download")
    with right:
        st.caption(t("page.status.download_unmapped"))
        ui.download_buttons(snapshot, "unmapped_codes", "status_unmapped_download", year=year)
ui.about(
    [],
    ["delivery_reconciliation", "data_completeness", "rejected_rows", "unmapped_codes"],
    [t("page.status.overdue_rule"), t("page.status.unmapped_rule")],
)
