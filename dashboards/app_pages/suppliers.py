"""Suppliers (leverandører): search a supplier by name or organisation number, see its
spend per member, the agreements it holds and its share on agreement. Private persons
are never listed (dashboards.privacy). The search and the chosen supplier are in the URL.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.formatting import format_amount, format_date, format_number
from dashboards.ui import metric_name, pct, t

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("page.suppliers.title"))
if not queries.has_tables(snapshot, "marts.suppliers", "marts.fct_spend_lines"):
    st.warning(t("common.mart_missing", table="marts.suppliers", command=queries.RUN_COMMAND))
    st.stop()
choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()
left, right = st.columns([2, 1])
search = left.text_input(
    t("page.suppliers.search"),
    value=st.query_params.get("q", ""),
    key="suppliers_search",
    placeholder=t("page.suppliers.search_hint"),
)
st.query_params["q"] = search
year = ui.year_selector(choice, key="suppliers_year", container=right)
labels = ui.member_labels(queries.members(snapshot))


def amount(value: Any) -> str:
    return format_amount(value, currency, language)


LIMIT = 50
found = queries.search_suppliers(snapshot, search.strip(), year, limit=LIMIT)
if found.empty:
    st.info(t("page.suppliers.none_found", text=search, year=year))
    st.stop()
table = pd.DataFrame(
    {
        t("common.supplier"): found["supplier_name"],
        t("common.org_no"): found["supplier_org_no"].fillna("–"),
        metric_name("total_spend"): found["total_spend"].map(amount),
        metric_name("on_agreement_spend"): found["on_agreement_spend"].map(amount),
        t("page.suppliers.share_on_agreement"): found["on_agreement_share"].map(pct),
        t("page.suppliers.agreements"): found["agreement_count"].map(
            lambda v: format_number(v, language)
        ),
        t("page.suppliers.members"): found["member_count"].map(
            lambda v: format_number(v, language)
        ),
    }
)
st.caption(t("page.suppliers.found", count=len(found), year=year, limit=LIMIT))
picked = st.dataframe(
    table,
    hide_index=True,
    key="suppliers_found",
    on_select="rerun",
    selection_mode="single-row",
    height=35 * (min(len(table), 10) + 1) + 3,
)
ui.download_buttons(
    snapshot, "supplier_search", "suppliers_found_download", year=year, search=search.strip()
)
rows = picked.selection.rows if picked is not None else []
keys = list(found["supplier_key"])
wanted = st.query_params.get("supplier")
if rows:
    supplier_key = keys[rows[0]]
elif wanted in keys:
    supplier_key = wanted
else:
    supplier_key = keys[0]
st.query_params["supplier"] = supplier_key
supplier = found[found["supplier_key"] == supplier_key].iloc[0]

st.subheader(t("page.suppliers.detail", supplier=supplier["supplier_name"], year=year))
first, second, third = st.columns(3)
first.metric(metric_name("total_spend"), amount(supplier["total_spend"]), border=True)
second.metric(
    t("page.suppliers.share_on_agreement"), pct(supplier["on_agreement_share"]), border=True
)
third.metric(
    t("page.suppliers.agreements"),
    format_number(supplier["agreement_count"], language),
    border=True,
)

per_member = queries.supplier_by_member(snapshot, supplier_key, year)
per_member["member"] = per_member["municipality_id"].map(lambda mid: labels.get(mid, mid))
st.dataframe(
    pd.DataFrame(
        {
            t("common.member"): per_member["member"],
            metric_name("total_spend"): per_member["total_spend"].map(amount),
            metric_name("covered_spend"): per_member["covered_spend"].map(amount),
            metric_name("on_agreement_spend"): per_member["on_agreement_spend"].map(amount),
            metric_name("off_agreement_spend"): per_member["off_agreement_spend"].map(amount),
            metric_name("loyalty"): per_member["loyalty"].map(pct),
        }
    ),
    hide_index=True,
    key="suppliers_per_member",
)
ui.download_buttons(
    snapshot,
    "supplier_by_member",
    "suppliers_per_member_download",
    year=year,
    supplier=supplier_key,
)

agreements = queries.supplier_agreements(snapshot, str(supplier["supplier_org_no"]))
st.markdown(f"**{t('page.suppliers.agreements_held')}**")
if agreements.empty:
    st.caption(t("page.suppliers.no_agreements"))
else:
    st.dataframe(
        pd.DataFrame(
            {
                t("page.suppliers.agreement"): agreements["agreement_name"],
                t("page.suppliers.valid_from"): agreements["valid_from"].map(
                    lambda v: format_date(v, language)
                ),
                t("page.suppliers.valid_to"): agreements["valid_to"].map(
                    lambda v: format_date(v, language)
                ),
            }
        ),
        hide_index=True,
        key="suppliers_agreements",
    )
ui.about(
    ["total_spend", "covered_spend", "on_agreement_spend", "off_agreement_spend"],
    ["suppliers", "fct_spend_lines", "dim_agreements"],
    [t("page.suppliers.share_rule"), t("common.privacy_note"), t("common.download_note")],
)
