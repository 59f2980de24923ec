"""Categories (kategorier): coverage and loyalty per category and member as a heat map;
the categories with no agreement and the most spend (candidates for new shared
agreements, "flere fellesavtaler"); and one category's suppliers (drill-down, the
category in the URL).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import heat_map
from dashboards.formatting import format_amount, format_number
from dashboards.ui import metric_name, pct, t

TOP_CATEGORIES = 20

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("page.categories.title"))
if not queries.has_tables(snapshot, "marts.category_kpis", "marts.fct_spend_lines"):
    st.warning(t("common.mart_missing", table="marts.category_kpis", command=queries.RUN_COMMAND))
    st.stop()
choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
year = ui.year_selector(choice, key="categories_year", width=220)
labels = ui.member_labels(queries.members(snapshot))


def amount(value: Any) -> str:
    return format_amount(value, currency, language)


figures = queries.category_figures(snapshot, year)
whole = figures[figures["municipality_id"] == queries.ALL]
top = whole[whole["category_id"] != "unclassified"].nlargest(TOP_CATEGORIES, "influenceable_spend")

st.subheader(t("page.categories.heat_map", count=len(top), year=year))
measure = ui.url_select(
    t("page.compare.measure"),
    ["coverage", "loyalty"],
    "measure",
    "categories_measure",
    format_func={name: metric_name(name) for name in ("coverage", "loyalty")}.__getitem__,
    width=320,
)
cells = figures[figures["category_id"].isin(top["category_id"])].copy()
cells["member"] = cells["municipality_id"].map(labels)
cells = cells[cells["member"].notna()]
cells["category"] = cells["category_name"]
cells["value"] = cells[measure]
cells["value_text"] = cells[measure].map(lambda v: pct(v, 0))
cells["spend_text"] = cells["influenceable_spend"].map(amount)
ui.chart(
    st,
    heat_map(
        cells,
        metric_name(measure),
        t("common.member"),
        t("common.category"),
        member_order=[label for label in labels.values() if label in set(cells["member"])],
        category_order=list(top["category_name"]),
    ),
    width="stretch",
)
st.caption(t("page.categories.heat_note"))

st.subheader(t("page.categories.without_agreement", year=year))
gaps = queries.categories_without_agreement(snapshot, year)
if gaps.empty:
    st.success(t("page.categories.no_gaps"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("common.category"): gaps["category_name"],
                metric_name("influenceable_spend"): gaps["influenceable_spend"].map(amount),
                t("page.categories.members_buying"): gaps["member_count"].map(
                    lambda v: format_number(v, language)
                ),
            }
        ),
        hide_index=True,
        key="categories_without_agreement",
    )
ui.download_buttons(snapshot, "category_kpis", "categories_download", year=year)

st.subheader(t("page.categories.suppliers"))
names = dict(zip(whole["category_id"], whole["category_name"], strict=True))
left, right = st.columns(2)
category = ui.url_select(
    t("common.category"),
    list(whole.sort_values("influenceable_spend", ascending=False)["category_id"]),
    "category",
    "categories_category",
    format_func=lambda cid: names.get(cid, cid),
    container=left,
)
who = ui.member_selector(queries.members(snapshot), key="categories_member", container=right)
suppliers = queries.member_suppliers(
    snapshot, who, year, category_id=category, private_label=t("common.private_persons")
)
if suppliers.empty:
    st.info(t("page.categories.no_covered", category=names.get(category, category)))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("common.supplier"): suppliers["supplier_name"],
                metric_name("influenceable_spend"): suppliers["influenceable_spend"].map(amount),
                metric_name("on_agreement_spend"): suppliers["on_agreement_spend"].map(amount),
                metric_name("off_agreement_spend"): suppliers["off_agreement_spend"].map(amount),
            }
        ),
        hide_index=True,
        key="categories_suppliers",
    )
    ui.download_buttons(
        snapshot,
        "member_suppliers",
        "categories_suppliers_download",
        municipality=who,
        year=year,
        category=category,
    )
ui.about(
    ["coverage", "loyalty", "influenceable_spend"],
    ["category_kpis", "fct_spend_lines"],
    [
        t("page.categories.gap_rule"),
        t("common.privacy_note"),
        t("common.download_note"),
        t("metric.undefined"),
    ],
)
