"""Cooperation overview for the economy council (Fagråd økonomi).

UI only: every number comes from `dashboards.queries`, which reads the marts of
the published snapshot. Each section names its mart and defines its metric.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.charts import quarterly_trend_chart, ratio_by_member_chart
from dashboards.formatting import (
    fmt_amount,
    fmt_amount_short,
    fmt_org_no,
    fmt_pct,
    fmt_pp,
    is_missing,
)

ALL_LABEL = "Whole cooperation"

INFLUENCEABLE = (
    "Influenceable spend (påvirkbart innkjøp): spend on the KOSTRA arts the procurement law "
    "governs, excluding excluded suppliers."
)
COVERAGE = (
    "Coverage (avtaledekning) = covered spend / influenceable spend: the share of spend in "
    "categories where an agreement was active on the invoice date."
)
LOYALTY = (
    "Agreement loyalty (avtalelojalitet) = on-agreement spend / covered spend: the share of "
    "covered spend bought from a supplier of an active agreement."
)
SHARED = (
    "Shared coverage and loyalty: the same two ratios counting only the cooperation's shared "
    "agreements (fellesavtaler, scope `cooperation`)."
)
OFF_AGREEMENT = (
    "Off-agreement spend (kjøp utenfor avtale) = covered spend − on-agreement spend: bought in a "
    "category with an active agreement, but not from one of its suppliers."
)
UNDEFINED = "n/a: the ratio is undefined because its denominator is 0."


def target_delta(value: Any, target: Any) -> dict[str, Any]:
    """st.metric arguments comparing a ratio with its target (nothing when either is NULL)."""
    if is_missing(value) or is_missing(target):
        return {}
    return {
        "delta": fmt_pp(float(value) - float(target)),
        "delta_description": f"vs target {fmt_pct(target)}",
    }


def amount_text(value: Any) -> str:
    return fmt_amount(value, currency)


def target_text(name: str, target: Any) -> str:
    return f"{name}: {'not set' if is_missing(target) else fmt_pct(target)}"


snapshot = ui.require_snapshot()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]
loyalty_target = cooperation["loyalty_target"]
coverage_target = cooperation["coverage_target"]

st.title(f"{cooperation['cooperation_name']}: cooperation overview")
st.caption(
    f"Country {cooperation['country']} · amounts in {currency}, net of VAT · "
    f"{ui.published_text(snapshot)}"
)

choice = queries.year_choice(snapshot)
available_years = choice.years
if not available_years:
    st.info(
        "The snapshot holds no figures yet: `marts.municipality_kpis` has no row for the whole "
        f"cooperation ('{queries.ALL}'). Check that the members' spend was loaded, then run "
        f"`{queries.RUN_COMMAND}` again."
    )
    st.stop()

year = ui.year_selector(choice, key="overview_year", width=220)

kpis = queries.kpis_for_year(snapshot, year)
member_rows = queries.members(snapshot)
hosts = set(member_rows.loc[member_rows["is_host"].fillna(False).astype(bool), "municipality_id"])
order = {municipality_id: rank for rank, municipality_id in enumerate(member_rows.municipality_id)}


def member_label(municipality_id: str, name: Any) -> str:
    if municipality_id == queries.ALL:
        return ALL_LABEL
    label = str(name) if not is_missing(name) else municipality_id
    return f"{label} (host)" if municipality_id in hosts else label


kpis["label"] = [
    member_label(mid, name)
    for mid, name in zip(kpis["municipality_id"], kpis["municipality_name"], strict=True)
]
kpis["rank"] = [
    -1 if mid == queries.ALL else order.get(mid, len(order)) for mid in kpis["municipality_id"]
]
kpis = kpis.sort_values(["rank", "label"]).reset_index(drop=True)
whole = kpis[kpis["municipality_id"] == queries.ALL]
if whole.empty:
    st.info(f"`marts.municipality_kpis` has no row for '{queries.ALL}' in {year}.")
    st.stop()
total = whole.iloc[0]

# --- Headline figures -------------------------------------------------------------------
st.subheader(f"{ALL_LABEL} (hele samarbeidet), {year}")
st.caption(
    f"Source: `marts.municipality_kpis`, row municipality_id = '{queries.ALL}' (the cooperation's "
    "ratios come from its summed amounts, not from a mean of the members' ratios); targets from "
    f"`marts.cooperation`. {COVERAGE} {LOYALTY}"
)
first_row = st.columns(3)
second_row = st.columns(3)
first_row[0].metric(
    "Influenceable spend (påvirkbart innkjøp)",
    fmt_amount_short(total["influenceable_spend"], currency),
    help=f"{INFLUENCEABLE} {fmt_amount(total['influenceable_spend'], currency)}.",
    border=True,
)
first_row[1].metric(
    "Coverage (avtaledekning)",
    fmt_pct(total["coverage"]),
    help=f"{COVERAGE} Covered spend {fmt_amount(total['covered_spend'], currency)}. "
    + target_text("Coverage target", coverage_target),
    border=True,
    **target_delta(total["coverage"], coverage_target),
)
first_row[2].metric(
    "Agreement loyalty (avtalelojalitet)",
    fmt_pct(total["loyalty"]),
    help=f"{LOYALTY} On-agreement spend {fmt_amount(total['on_agreement_spend'], currency)}. "
    + target_text("Loyalty target", loyalty_target),
    border=True,
    **target_delta(total["loyalty"], loyalty_target),
)
second_row[0].metric(
    "Off-agreement spend (kjøp utenfor avtale)",
    fmt_amount_short(total["off_agreement_spend"], currency),
    help=f"{OFF_AGREEMENT} {fmt_amount(total['off_agreement_spend'], currency)}.",
    border=True,
)
second_row[1].metric(
    "Shared coverage (fellesavtaler)",
    fmt_pct(total["shared_coverage"]),
    help=f"{SHARED} Covered by shared agreements: "
    f"{fmt_amount(total['shared_covered_spend'], currency)}.",
    border=True,
)
second_row[2].metric(
    "Shared loyalty (fellesavtaler)",
    fmt_pct(total["shared_loyalty"]),
    help=f"{SHARED} On shared agreements: "
    f"{fmt_amount(total['shared_on_agreement_spend'], currency)}.",
    border=True,
)
st.caption(
    " · ".join(
        [
            target_text("Loyalty target (mål for avtalelojalitet)", loyalty_target),
            target_text("Coverage target (mål for avtaledekning)", coverage_target),
            UNDEFINED,
        ]
    )
)

# --- Per member ---------------------------------------------------------------------------
st.subheader(f"Coverage and loyalty per member, {year}")
st.caption(
    "Source: `marts.municipality_kpis` (one row per member and year); target lines from "
    f"`marts.cooperation`. {COVERAGE} {LOYALTY} The light bars count only the shared "
    "agreements (fellesavtaler)."
)
coverage_column, loyalty_column = st.columns(2)
coverage_column.altair_chart(
    ratio_by_member_chart(kpis, "coverage", "Coverage (avtaledekning)", coverage_target),
    width="stretch",
)
loyalty_column.altair_chart(
    ratio_by_member_chart(kpis, "loyalty", "Agreement loyalty (avtalelojalitet)", loyalty_target),
    width="stretch",
)
undefined = [
    f"{row.label}: {title}"
    for row in kpis.itertuples()
    for column, title in [
        ("coverage", "coverage"),
        ("loyalty", "loyalty"),
        ("shared_coverage", "shared coverage"),
        ("shared_loyalty", "shared loyalty"),
    ]
    if is_missing(getattr(row, column))
]
if undefined:
    st.caption(f"n/a (no bar: the denominator is 0) for {'; '.join(undefined)}.")

with st.expander("Figures per member (tall per kommune)"):
    figures = kpis[
        [
            "label",
            "influenceable_spend",
            "covered_spend",
            "on_agreement_spend",
            "off_agreement_spend",
            "coverage",
            "loyalty",
            "shared_coverage",
            "shared_loyalty",
        ]
    ].rename(
        columns={
            "label": "Member",
            "influenceable_spend": "Influenceable spend",
            "covered_spend": "Covered spend",
            "on_agreement_spend": "On-agreement spend",
            "off_agreement_spend": "Off-agreement spend",
            "coverage": "Coverage",
            "loyalty": "Loyalty",
            "shared_coverage": "Shared coverage",
            "shared_loyalty": "Shared loyalty",
        }
    )
    formats = {column: amount_text for column in figures.columns[1:5]}
    formats.update({column: fmt_pct for column in figures.columns[5:]})
    st.dataframe(figures.style.format(formats), hide_index=True, key="overview_member_figures")
    st.caption("Source: `marts.municipality_kpis`. " + UNDEFINED)

# --- Trend by quarter ---------------------------------------------------------------------
st.subheader("Trend by quarter (utvikling per kvartal)")
st.caption(
    "Source: `marts.kpis_by_period` where period_type = 'quarter', all years in the snapshot. "
    f"{COVERAGE} {LOYALTY} The thick line is the whole cooperation; a gap is a quarter where "
    "the ratio is undefined."
)
trend = queries.quarterly_kpis(snapshot)
if trend.empty:
    st.info("`marts.kpis_by_period` has no quarterly rows yet.")
else:
    trend["label"] = [
        member_label(mid, name)
        for mid, name in zip(trend["municipality_id"], trend["municipality_name"], strict=True)
    ]
    trend["is_all"] = trend["municipality_id"] == queries.ALL
    trend["quarter_label"] = [
        f"{int(y)} Q{int(q)}" if not (is_missing(y) or is_missing(q)) else str(start)[:10]
        for y, q, start in zip(trend["year"], trend["quarter"], trend["period_start"], strict=True)
    ]
    coverage_trend, loyalty_trend = st.columns(2)
    coverage_trend.altair_chart(
        quarterly_trend_chart(trend, "coverage", "Coverage (avtaledekning)", coverage_target),
        width="stretch",
    )
    loyalty_trend.altair_chart(
        quarterly_trend_chart(
            trend, "loyalty", "Agreement loyalty (avtalelojalitet)", loyalty_target
        ),
        width="stretch",
    )

# --- Off-agreement suppliers --------------------------------------------------------------
st.subheader(f"Biggest off-agreement suppliers (kjøp utenfor avtale), {year}")
st.caption(f"Source: `marts.off_agreement_suppliers`. {OFF_AGREEMENT}")
labels = dict(zip(kpis["municipality_id"], kpis["label"], strict=True))
who = st.selectbox(
    "Member (kommune)",
    list(labels),
    format_func=lambda municipality_id: labels[municipality_id],
    key="overview_supplier_member",
    width=320,
)
suppliers = queries.top_off_agreement_suppliers(snapshot, who, year, limit=15)
if suppliers.empty:
    st.info(f"No off-agreement spend for {labels[who]} in {year}.")
else:
    member_total = kpis.loc[kpis["municipality_id"] == who, "off_agreement_spend"].iloc[0]
    listed = suppliers["off_agreement_spend"].sum()
    table = pd.DataFrame(
        {
            "Supplier": suppliers["supplier_name"],
            "Organisation number": suppliers["supplier_org_no"].map(fmt_org_no),
            "Off-agreement spend": suppliers["off_agreement_spend"],
            "Share of off-agreement spend": suppliers["share_of_off_agreement"],
            "Covered spend": suppliers["covered_spend"],
            "Invoice lines": suppliers["line_count"],
        }
    )
    table.index = range(1, len(table) + 1)
    st.dataframe(
        table.style.format(
            {
                "Off-agreement spend": amount_text,
                "Covered spend": amount_text,
                "Share of off-agreement spend": fmt_pct,
                "Invoice lines": fmt_amount,
            }
        ),
        key="overview_off_agreement_suppliers",
        height=35 * (len(table) + 1) + 3,  # all rows, no inner scrolling
    )
    st.caption(
        f"The {len(table)} biggest suppliers bought from outside agreements by {labels[who]} in "
        f"{year}: {fmt_amount(listed, currency)} of {fmt_amount(member_total, currency)} "
        "off-agreement spend. Covered spend is all spend with the supplier in categories with "
        "an active agreement. Suppliers are matched by organisation number; '–' means the "
        "invoice had none."
    )
