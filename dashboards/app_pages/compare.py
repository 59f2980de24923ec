"""Compare members (sammenlign kommunene): per inhabitant, and coverage and loyalty side
by side with the whole cooperation and the target; rank and change from last year.
Selecting a member's row opens its Member page (drill-down).

UI only: every number comes from `dashboards.queries`; every text from the catalogues.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import member_bars, ratio_by_member_chart
from dashboards.formatting import format_amount, format_number, format_points, is_missing
from dashboards.ui import metric_name, pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("page.compare.title"))
st.caption(t("common.amounts_in", currency=currency) + " · " + ui.published_text(snapshot))
if not queries.has_tables(snapshot, "marts.per_capita"):
    st.warning(t("common.mart_missing", table="marts.per_capita", command=queries.RUN_COMMAND))
    st.stop()

choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
year = ui.year_selector(choice, key="compare_year", width=220)

labels = ui.member_labels(queries.members(snapshot))
figures = queries.compare_members(snapshot, year)
this_year = figures[figures["year"] == year].set_index("municipality_id")
last_year = figures[figures["year"] == year - 1].set_index("municipality_id")
ids = [mid for mid in labels if mid in this_year.index]
frame = this_year.loc[ids].reset_index()
frame["label"] = frame["municipality_id"].map(labels)
frame["is_all"] = frame["municipality_id"] == queries.ALL


def amount(value: Any) -> str:
    return format_amount(value, currency, language)


def change(metric: str, mid: str) -> Any:
    if mid not in last_year.index:
        return None
    before, now = last_year.at[mid, metric], this_year.at[mid, metric]
    if is_missing(before) or is_missing(now):
        return None
    return float(now) - float(before)


# --- Per inhabitant -----------------------------------------------------------------------
st.subheader(t("page.compare.per_inhabitant", year=year))
MEASURES = {
    "off_agreement_spend_per_inhabitant": metric_name("off_agreement_per_inhabitant"),
    "shared_on_agreement_spend_per_inhabitant": metric_name("shared_on_agreement_per_inhabitant"),
    "on_agreement_spend_per_inhabitant": metric_name("on_agreement_per_inhabitant"),
    "influenceable_spend_per_inhabitant": metric_name("influenceable_per_inhabitant"),
    "total_spend_per_inhabitant": metric_name("spend_per_inhabitant"),
}
metric = ui.url_select(
    t("page.compare.measure"),
    list(MEASURES),
    "measure",
    "compare_measure",
    format_func=MEASURES.__getitem__,
    width=420,
)
bars = frame.sort_values(metric, ascending=False, na_position="last").copy()
bars["value_text"] = bars[metric].map(amount)
ui.chart(
    st,
    member_bars(
        bars, metric, t("page.compare.per_inhabitant_axis", currency=currency), t("common.member")
    ),
    width="stretch",
)

# --- The table: rank and change -----------------------------------------------------------
members_only = frame[~frame["is_all"]].copy()
members_only["rank"] = members_only["off_agreement_spend_per_inhabitant"].rank(
    ascending=True, method="min", na_option="bottom"
)
rank_before = (
    last_year.drop(index=queries.ALL, errors="ignore")["off_agreement_spend_per_inhabitant"]
    .rank(ascending=True, method="min", na_option="bottom")
    .to_dict()
)
rows = []
for row in frame.itertuples():
    mid = row.municipality_id
    off_change = change("off_agreement_spend_per_inhabitant", mid)
    rank_now = None if row.is_all else members_only.set_index("municipality_id").at[mid, "rank"]
    rows.append(
        {
            "municipality_id": mid,
            t("common.member"): row.label,
            t("page.compare.rank"): "" if rank_now is None else format_number(rank_now, language),
            t("page.compare.rank_last_year"): (
                ""
                if row.is_all or mid not in rank_before
                else format_number(rank_before[mid], language)
            ),
            metric_name("off_agreement_per_inhabitant"): amount(
                row.off_agreement_spend_per_inhabitant
            ),
            t("page.compare.change_off_agreement"): (
                "–" if off_change is None else ("+" if off_change > 0 else "") + amount(off_change)
            ),
            metric_name("shared_on_agreement_per_inhabitant"): amount(
                row.shared_on_agreement_spend_per_inhabitant
            ),
            metric_name("coverage"): pct(row.coverage),
            t("page.compare.change_coverage"): format_points(change("coverage", mid), language),
            metric_name("loyalty"): pct(row.loyalty),
            t("page.compare.change_loyalty"): format_points(change("loyalty", mid), language),
            metric_name("population"): format_number(row.population, language),
            metric_name("spend_per_inhabitant"): amount(row.total_spend_per_inhabitant),
            metric_name("influenceable_per_inhabitant"): amount(
                row.influenceable_spend_per_inhabitant
            ),
        }
    )
table = pd.DataFrame(rows)
st.subheader(t("page.compare.table", year=year, previous=year - 1))
selection = st.dataframe(
    table.drop(columns=["municipality_id"]),
    hide_index=True,
    key="compare_table",
    on_select="rerun",
    selection_mode="single-row",
)
st.caption(t("page.compare.rank_note"))
selected = selection.selection.rows if selection is not None else []
if selected:
    picked = table.iloc[selected[0]]["municipality_id"]
    if picked != queries.ALL:
        st.switch_page(
            "app_pages/member.py",
            query_params={"member": picked, "year": str(year), "lang": language},
        )
ui.download_buttons(snapshot, "per_capita", "compare_download", year=year)

# --- Coverage and loyalty side by side ----------------------------------------------------
st.subheader(t("page.compare.ratios", year=year))
chart_texts = {
    "scopes": (t("common.scope_all"), t("common.scope_shared")),
    "member_title": t("common.member"),
    "scope_title": t("common.agreements"),
    "percent": pct,
}
left, right = st.columns(2)
for column, name, target in (
    (left, "coverage", cooperation["coverage_target"]),
    (right, "loyalty", cooperation["loyalty_target"]),
):
    ui.chart(
        column,
        ratio_by_member_chart(
            frame,
            name,
            metric_name(name),
            target,
            target_label=None
            if is_missing(target)
            else t("common.target_value", value=pct(target)),
            **chart_texts,
        ),
        width="stretch",
    )
ui.about(
    [
        "off_agreement_per_inhabitant",
        "shared_on_agreement_per_inhabitant",
        "on_agreement_per_inhabitant",
        "spend_per_inhabitant",
        "influenceable_per_inhabitant",
        "coverage",
        "loyalty",
    ],
    ["per_capita", "municipality_kpis"],
    [t("page.compare.rank_note"), t("metric.undefined")],
)
