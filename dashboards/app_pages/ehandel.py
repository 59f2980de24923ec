"""eHandel: the share of influenceable and of on-agreement spend ordered through
e-commerce (lines with an order reference), per member and category, with its trend.
The strategies of Lillestrøm and Værnesregionen require purchases on agreements to go
through eHandel. The shares are computed in dbt (municipality_kpis, category_kpis); the
page only reads them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import member_bars, yearly_lines
from dashboards.formatting import format_amount
from dashboards.ui import metric_name, pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("page.ehandel.title"))
st.caption(t("page.ehandel.lead"))
if queries.missing_columns(
    snapshot, {"marts.municipality_kpis": ("ehandel_share_of_influenceable",)}
):
    st.warning(
        t(
            "common.mart_missing",
            table="marts.municipality_kpis.ehandel_share_of_influenceable",
            command=queries.RUN_COMMAND,
        )
    )
    st.stop()

choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
year = ui.year_selector(choice, key="ehandel_year", width=220)
labels = ui.member_labels(queries.members(snapshot))


def amount(value: Any, compact: bool = False) -> str:
    return format_amount(value, currency, language, compact=compact)


every_year = queries.ehandel_by_member(snapshot)
every_year["label"] = every_year["municipality_id"].map(labels)
every_year = every_year[every_year["label"].notna()]
every_year["is_all"] = every_year["municipality_id"] == queries.ALL
rows = every_year[every_year["year"] == year]
whole = rows[rows["is_all"]]

if not whole.empty:
    total = whole.iloc[0]
    first, second, third = st.columns(3)
    first.metric(
        metric_name("ehandel_share_influenceable"),
        pct(total["ehandel_share_of_influenceable"]),
        border=True,
    )
    second.metric(
        metric_name("ehandel_share_on_agreement"),
        pct(total["ehandel_share_of_on_agreement"]),
        border=True,
    )
    third.metric(
        metric_name("ehandel_spend"),
        amount(total["ehandel_influenceable_spend"], compact=True),
        border=True,
    )

st.subheader(t("page.ehandel.per_member", year=year))
SHARES = {
    "ehandel_share_of_on_agreement": metric_name("ehandel_share_on_agreement"),
    "ehandel_share_of_influenceable": metric_name("ehandel_share_influenceable"),
}
share = ui.url_select(
    t("page.compare.measure"),
    list(SHARES),
    "share",
    "ehandel_share",
    format_func=SHARES.__getitem__,
    width=420,
)
ordered = rows.sort_values(share, ascending=False, na_position="last").copy()
ordered["value_text"] = ordered[share].map(pct)
ui.chart(
    st,
    member_bars(
        ordered,
        share,
        metric_name(
            "ehandel_share_on_agreement"
            if share.endswith("on_agreement")
            else "ehandel_share_influenceable"
        ),
        t("common.member"),
        axis_format="%",
    ),
    width="stretch",
)

st.subheader(t("page.ehandel.trend"))
trend = every_year.copy()
trend["value_text"] = trend[share].map(pct)
ui.chart(
    st,
    yearly_lines(
        trend,
        share,
        metric_name(
            "ehandel_share_on_agreement"
            if share.endswith("on_agreement")
            else "ehandel_share_influenceable"
        ),
        t("common.member"),
        t("common.year"),
    ),
    width="stretch",
)

st.subheader(t("page.ehandel.per_category", year=year))
who = ui.member_selector(queries.members(snapshot), key="ehandel_member", width=320)
categories = queries.category_figures(snapshot, year, who)
categories = categories[categories["influenceable_spend"] > 0]
table = pd.DataFrame(
    {
        t("common.category"): categories["category_name"],
        metric_name("influenceable_spend"): categories["influenceable_spend"].map(amount),
        metric_name("ehandel_spend"): categories["ehandel_influenceable_spend"].map(amount),
        metric_name("ehandel_share_influenceable"): categories[
            "ehandel_share_of_influenceable"
        ].map(pct),
        metric_name("on_agreement_spend"): categories["on_agreement_spend"].map(amount),
        metric_name("ehandel_share_on_agreement"): categories["ehandel_share_of_on_agreement"].map(
            pct
        ),
    }
)
st.dataframe(table, hide_index=True, key="ehandel_categories")
ui.download_buttons(snapshot, "category_kpis", "ehandel_download", municipality=who, year=year)
ui.about(
    ["ehandel_share_influenceable", "ehandel_share_on_agreement", "ehandel_spend"],
    ["municipality_kpis", "category_kpis"],
    [t("page.ehandel.rule"), t("metric.undefined")],
)
