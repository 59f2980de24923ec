"""Cooperation overview for the economy council (Fagråd økonomi): the year's headline
figures against the targets, coverage and loyalty per member, the trend by quarter and
the biggest suppliers bought from outside agreements.

UI only: every number comes from `dashboards.queries`; every text from the catalogues.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import quarterly_trend_chart, ratio_by_member_chart
from dashboards.formatting import format_amount, format_number, is_missing
from dashboards.privacy import PRIVATE_KEY
from dashboards.ui import metric_name, pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]
loyalty_target = cooperation["loyalty_target"]
coverage_target = cooperation["coverage_target"]


def amount(value: Any, compact: bool = False) -> str:
    return format_amount(value, currency, language, compact=compact)


def target_text(target: Any) -> str:
    return t("common.target_not_set") if is_missing(target) else pct(target)


st.title(t("page.overview.heading", name=cooperation["cooperation_name"]))
st.caption(t("common.amounts_in", currency=currency) + " · " + ui.published_text(snapshot))

choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
year = ui.year_selector(choice, key="overview_year", width=220)

kpis = queries.kpis_for_year(snapshot, year)
labels = ui.member_labels(queries.members(snapshot))
order = {municipality_id: rank for rank, municipality_id in enumerate(labels)}
kpis["label"] = [
    labels.get(mid, str(name))
    for mid, name in zip(kpis.municipality_id, kpis.municipality_name, strict=True)
]
kpis["rank"] = [order.get(mid, len(order)) for mid in kpis["municipality_id"]]
kpis = kpis.sort_values(["rank", "label"]).reset_index(drop=True)
whole = kpis[kpis["municipality_id"] == queries.ALL]
if whole.empty:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
total = whole.iloc[0]

# --- Headline figures -------------------------------------------------------------------
st.subheader(t("page.overview.headline", year=year))
first_row = st.columns(3)
second_row = st.columns(3)
first_row[0].metric(
    metric_name("influenceable_spend"),
    amount(total["influenceable_spend"], compact=True),
    help=amount(total["influenceable_spend"]),
    border=True,
)
first_row[1].metric(
    metric_name("coverage"),
    pct(total["coverage"]),
    border=True,
    **ui.target_delta(total["coverage"], coverage_target),
)
first_row[2].metric(
    metric_name("loyalty"),
    pct(total["loyalty"]),
    border=True,
    **ui.target_delta(total["loyalty"], loyalty_target),
)
second_row[0].metric(
    metric_name("off_agreement_spend"),
    amount(total["off_agreement_spend"], compact=True),
    help=amount(total["off_agreement_spend"]),
    border=True,
)
second_row[1].metric(metric_name("shared_coverage"), pct(total["shared_coverage"]), border=True)
second_row[2].metric(metric_name("shared_loyalty"), pct(total["shared_loyalty"]), border=True)
st.caption(
    t(
        "page.overview.targets",
        loyalty=target_text(loyalty_target),
        coverage=target_text(coverage_target),
    )
)
ui.about(
    [
        "influenceable_spend",
        "coverage",
        "loyalty",
        "off_agreement_spend",
        "shared_coverage",
        "shared_loyalty",
    ],
    ["municipality_kpis", "cooperation"],
    [t("page.overview.whole_from_sums"), t("metric.undefined")],
)

# --- Per member ---------------------------------------------------------------------------
st.subheader(t("page.overview.per_member", year=year))
scopes = (t("common.scope_all"), t("common.scope_shared"))
chart_texts = {
    "scopes": scopes,
    "member_title": t("common.member"),
    "scope_title": t("common.agreements"),
    "percent": pct,
}
coverage_column, loyalty_column = st.columns(2)
ui.chart(
    coverage_column,
    ratio_by_member_chart(
        kpis,
        "coverage",
        metric_name("coverage"),
        coverage_target,
        target_label=t("common.target_value", value=target_text(coverage_target)),
        **chart_texts,
    ),
    width="stretch",
)
ui.chart(
    loyalty_column,
    ratio_by_member_chart(
        kpis,
        "loyalty",
        metric_name("loyalty"),
        loyalty_target,
        target_label=t("common.target_value", value=target_text(loyalty_target)),
        **chart_texts,
    ),
    width="stretch",
)
undefined = [
    f"{row.label}: {metric_name(column)}"
    for row in kpis.itertuples()
    for column in ("coverage", "loyalty", "shared_coverage", "shared_loyalty")
    if is_missing(getattr(row, column))
]
if undefined:
    st.caption(t("common.undefined_for", items="; ".join(undefined)))

figures = pd.DataFrame(
    {
        t("common.member"): kpis["label"],
        metric_name("influenceable_spend"): kpis["influenceable_spend"].map(amount),
        metric_name("covered_spend"): kpis["covered_spend"].map(amount),
        metric_name("on_agreement_spend"): kpis["on_agreement_spend"].map(amount),
        metric_name("off_agreement_spend"): kpis["off_agreement_spend"].map(amount),
        metric_name("coverage"): kpis["coverage"].map(pct),
        metric_name("loyalty"): kpis["loyalty"].map(pct),
        metric_name("shared_coverage"): kpis["shared_coverage"].map(pct),
        metric_name("shared_loyalty"): kpis["shared_loyalty"].map(pct),
    }
)
with st.expander(t("page.overview.figures_per_member")):
    st.dataframe(figures, hide_index=True, key="overview_member_figures")
    ui.download_buttons(snapshot, "municipality_kpis", "overview_kpis_download", year=year)
ui.about(
    ["coverage", "loyalty", "shared_coverage", "shared_loyalty"],
    ["municipality_kpis", "cooperation"],
    [t("page.overview.light_bars")],
)

# --- Trend by quarter ---------------------------------------------------------------------
st.subheader(t("page.overview.trend"))
trend = queries.quarterly_kpis(snapshot)
if trend.empty:
    st.info(t("common.no_rows"))
else:
    trend["label"] = [
        labels.get(mid, str(name))
        for mid, name in zip(trend.municipality_id, trend.municipality_name, strict=True)
    ]
    trend["is_all"] = trend["municipality_id"] == queries.ALL
    trend["quarter_label"] = [
        t("common.quarter_label", year=int(y), quarter=int(q))
        if not (is_missing(y) or is_missing(q))
        else str(start)[:10]
        for y, q, start in zip(trend["year"], trend["quarter"], trend["period_start"], strict=True)
    ]
    trend_texts = {
        "member_title": t("common.member"),
        "quarter_title": t("common.quarter"),
        "percent": pct,
    }
    coverage_trend, loyalty_trend = st.columns(2)
    ui.chart(
        coverage_trend,
        quarterly_trend_chart(
            trend,
            "coverage",
            metric_name("coverage"),
            coverage_target,
            target_label=t("common.target_value", value=target_text(coverage_target)),
            **trend_texts,
        ),
        width="stretch",
    )
    ui.chart(
        loyalty_trend,
        quarterly_trend_chart(
            trend,
            "loyalty",
            metric_name("loyalty"),
            loyalty_target,
            target_label=t("common.target_value", value=target_text(loyalty_target)),
            **trend_texts,
        ),
        width="stretch",
    )
    st.caption(t("page.overview.trend_note"))

# --- Off-agreement suppliers --------------------------------------------------------------
st.subheader(t("page.overview.suppliers", year=year))
who = ui.member_selector(queries.members(snapshot), key="overview_supplier_member", width=320)
suppliers = queries.top_off_agreement_suppliers(snapshot, who, year, limit=15)
if suppliers.empty:
    st.info(t("page.overview.no_off_agreement", member=labels[who], year=year))
else:
    member_total = kpis.loc[kpis["municipality_id"] == who, "off_agreement_spend"]
    names = [
        t("common.private_persons") if key == PRIVATE_KEY else name
        for key, name in zip(suppliers["supplier_key"], suppliers["supplier_name"], strict=True)
    ]
    table = pd.DataFrame(
        {
            t("common.supplier"): names,
            t("common.org_no"): suppliers["supplier_org_no"].fillna("–"),
            metric_name("off_agreement_spend"): suppliers["off_agreement_spend"].map(amount),
            t("page.overview.share_of_off_agreement"): suppliers["share_of_off_agreement"].map(pct),
            metric_name("covered_spend"): suppliers["covered_spend"].map(amount),
            t("common.invoice_lines"): suppliers["line_count"].map(
                lambda v: format_number(v, language)
            ),
        }
    )
    table.index = range(1, len(table) + 1)
    st.dataframe(table, key="overview_off_agreement_suppliers", height=35 * (len(table) + 1) + 3)
    st.caption(
        t(
            "page.overview.suppliers_note",
            count=len(table),
            member=labels[who],
            listed=amount(suppliers["off_agreement_spend"].sum()),
            total=amount(member_total.iloc[0] if not member_total.empty else None),
        )
    )
ui.about(
    ["off_agreement_spend", "covered_spend"],
    ["off_agreement_suppliers"],
    [t("common.privacy_note")],
)
