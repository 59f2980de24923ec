"""One member's story (kommunens historie): the year against last year and the target,
the trend by quarter, its categories (select one to see its suppliers: member ->
categories -> suppliers), its biggest suppliers on and off agreement, its threshold
crossings, and a link into Follow-up filtered to the member.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import quarterly_trend_chart
from dashboards.formatting import (
    format_amount,
    format_date,
    format_number,
    format_points,
    is_missing,
)
from dashboards.ui import metric_name, pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

choice = queries.year_choice(snapshot)
if not choice.years:
    st.title(t("page.member.title"))
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
members = queries.members(snapshot)
labels = ui.member_labels(members, with_all=False)
left, right = st.columns([2, 1])
member = ui.member_selector(members, key="member_member", with_all=False, container=left)
year = ui.year_selector(choice, key="member_year", container=right)
name = labels[member]
st.title(t("page.member.heading", member=name, year=year))


def amount(value: Any, compact: bool = False) -> str:
    return format_amount(value, currency, language, compact=compact)


# --- The year against last year -----------------------------------------------------------
figures = queries.compare_members(snapshot, year)
now = figures[(figures["municipality_id"] == member) & (figures["year"] == year)]
before = figures[(figures["municipality_id"] == member) & (figures["year"] == year - 1)]
if now.empty:
    st.info(t("page.member.no_figures", member=name, year=year))
    st.stop()
row = now.iloc[0]
previous = before.iloc[0] if not before.empty else None


def delta_amount(column: str) -> dict[str, Any]:
    if previous is None or is_missing(previous[column]) or is_missing(row[column]):
        return {}
    return {
        "delta": amount(float(row[column]) - float(previous[column])),
        "delta_description": t("common.vs_last_year"),
    }


def delta_points(column: str) -> dict[str, Any]:
    if previous is None or is_missing(previous[column]) or is_missing(row[column]):
        return {}
    return {
        "delta": format_points(float(row[column]) - float(previous[column]), language),
        "delta_description": t("common.vs_last_year"),
    }


columns = st.columns(4)
columns[0].metric(
    metric_name("off_agreement_per_inhabitant"),
    amount(row["off_agreement_spend_per_inhabitant"]),
    border=True,
    delta_color="inverse",
    **delta_amount("off_agreement_spend_per_inhabitant"),
)
columns[1].metric(
    metric_name("coverage"), pct(row["coverage"]), border=True, **delta_points("coverage")
)
columns[2].metric(
    metric_name("loyalty"), pct(row["loyalty"]), border=True, **delta_points("loyalty")
)
columns[3].metric(
    metric_name("off_agreement_spend"),
    amount(row["off_agreement_spend"], compact=True),
    border=True,
    delta_color="inverse",
    **delta_amount("off_agreement_spend"),
)
st.page_link(
    "app_pages/followup.py",
    label=t("page.member.to_followup", member=name),
    icon=":material/checklist:",
    query_params={"member": member, "year": str(year), "lang": language},
)

# --- Trend ----------------------------------------------------------------------------------
st.subheader(t("page.member.trend"))
trend = pd.concat(
    [queries.member_quarters(snapshot, member), queries.member_quarters(snapshot, queries.ALL)]
)
if not trend.empty:
    trend["label"] = [
        name if mid == member else t("common.whole_cooperation") for mid in trend["municipality_id"]
    ]
    trend["is_all"] = trend["municipality_id"] == queries.ALL
    trend["quarter_label"] = [
        t("common.quarter_label", year=int(y), quarter=int(q))
        for y, q in zip(trend["year"], trend["quarter"], strict=True)
    ]
    texts = {
        "member_title": t("common.member"),
        "quarter_title": t("common.quarter"),
        "percent": pct,
    }
    a, b = st.columns(2)
    ui.chart(
        a,
        quarterly_trend_chart(trend, "coverage", metric_name("coverage"), **texts),
        width="stretch",
    )
    ui.chart(
        b,
        quarterly_trend_chart(
            trend,
            "loyalty",
            metric_name("loyalty"),
            cooperation["loyalty_target"],
            target_label=None
            if is_missing(cooperation["loyalty_target"])
            else t("common.target_value", value=pct(cooperation["loyalty_target"])),
            **texts,
        ),
        width="stretch",
    )

# --- Categories -> suppliers ----------------------------------------------------------------
st.subheader(t("page.member.categories", year=year))
categories = queries.category_figures(snapshot, year, member)
categories = categories[categories["influenceable_spend"] != 0].reset_index(drop=True)
category_table = pd.DataFrame(
    {
        t("common.category"): categories["category_name"],
        metric_name("influenceable_spend"): categories["influenceable_spend"].map(amount),
        metric_name("coverage"): categories["coverage"].map(pct),
        metric_name("loyalty"): categories["loyalty"].map(pct),
        metric_name("off_agreement_spend"): categories["off_agreement_spend"].map(amount),
    }
)
picked = st.dataframe(
    category_table,
    hide_index=True,
    key="member_categories",
    on_select="rerun",
    selection_mode="single-row",
    height=35 * (min(len(category_table), 10) + 1) + 3,
)
st.caption(t("page.member.pick_category"))
ui.download_buttons(
    snapshot, "category_kpis", "member_categories_download", municipality=member, year=year
)
rows = picked.selection.rows if picked is not None else []
category = categories.iloc[rows[0]]["category_id"] if rows else None
category_name = categories.iloc[rows[0]]["category_name"] if rows else None

st.subheader(
    t("page.member.suppliers_in", category=category_name)
    if category
    else t("page.member.suppliers")
)
private = t("common.private_persons")  # the one row of every private person, never named
suppliers = queries.member_suppliers(
    snapshot, member, year, category_id=category, limit=None, private_label=private
)
on_col, off_col = st.columns(2)
for column, measure, title in (
    (on_col, "on_agreement_spend", t("page.member.top_on")),
    (off_col, "off_agreement_spend", t("page.member.top_off")),
):
    top = suppliers[suppliers[measure] > 0].nlargest(10, measure)
    column.markdown(f"**{title}**")
    column.dataframe(
        pd.DataFrame(
            {
                t("common.supplier"): top["supplier_name"],
                metric_name(measure): top[measure].map(amount),
            }
        ),
        hide_index=True,
        key=f"member_{measure}",
    )
ui.download_buttons(
    snapshot,
    "member_suppliers",
    "member_suppliers_download",
    municipality=member,
    year=year,
    category=category,
)

# --- Threshold crossings --------------------------------------------------------------------
st.subheader(t("page.member.crossings", year=year))
if not queries.has_tables(snapshot, "marts.threshold_flags"):
    st.info(t("common.mart_missing", table="marts.threshold_flags", command=queries.RUN_COMMAND))
else:
    crossings = queries.member_crossings(snapshot, member, year, private_label=private)
    if crossings.empty:
        st.success(t("page.member.no_crossings", member=name, year=year))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("page.member.month_end"): crossings["month_end"].map(
                        lambda v: format_date(v, language)
                    ),
                    t("page.member.threshold"): crossings["threshold"].map(lambda v: amount(v)),
                    t("common.supplier"): crossings["supplier_name"],
                    t("common.category"): crossings["category_name"],
                    t("page.member.trailing"): crossings["trailing_12m_spend"].map(amount),
                    t("page.member.has_agreement"): crossings["has_agreement_for_category"].map(
                        lambda v: t("common.yes") if v else t("common.no")
                    ),
                }
            ),
            hide_index=True,
            key="member_crossings",
        )
        st.caption(t("page.member.crossings_count", count=format_number(len(crossings), language)))
        ui.download_buttons(
            snapshot,
            "member_crossings",
            "member_crossings_download",
            municipality=member,
            year=year,
        )
ui.about(
    ["off_agreement_per_inhabitant", "coverage", "loyalty", "off_agreement_spend"],
    [
        "per_capita",
        "municipality_kpis",
        "kpis_by_period",
        "category_kpis",
        "fct_spend_lines",
        "threshold_flags",
    ],
    [
        t("page.member.crossing_rule"),
        t("common.privacy_note"),
        t("common.download_note"),
        t("metric.undefined"),
    ],
)
