"""Follow-up (oppfølging) for the host's procurement unit (innkjøpsenheten).

UI only: every number comes from `dashboards.queries`, which reads the marts of
the published snapshot. Each section names its mart and defines its rule; a
section whose mart the snapshot lacks says so and the other sections are still
drawn. Filters: member (or all members) and year.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.formatting import (
    NOT_AVAILABLE,
    fmt_amount,
    fmt_date,
    fmt_org_no,
    fmt_pct,
    fmt_price,
    fmt_quantity,
    is_missing,
)

ALL_LABEL = "All members (alle kommuner)"
MAX_ROWS = 500  # rows per table; the full lists come from `samkjop export`

THRESHOLDS = (
    "A crossing (terskelverdi passert): the influenceable spend with one supplier in one "
    "category that was not on an agreement, summed over the trailing 12 months (the month and "
    "the 11 before it), reached a threshold at this month end after being below it at the "
    "previous one. Without an agreement for the category it is a candidate for a competition "
    "(konkurranse); with one, the purchases should have used it."
)
OFF_AGREEMENT = (
    "Off-agreement spend (kjøp utenfor avtale): bought in a category with an active agreement, "
    "but not from one of its suppliers (matched by organisation number), per member, department "
    "(ansvar), supplier and category. The agreements listed were active for these purchases and "
    "should have been used."
)
EXPIRING = (
    "Expiring (utløper): the agreement's last day (valid_to, extensions included) is between the "
    "as-of date and 6 months after it. Spend over the 12 months up to the as-of date: what was "
    "bought in the agreement's categories by the participating members (covered) and from its "
    "suppliers (on agreement): the volume a renewal has to cover."
)
PRICES = (
    "Price deviation (prisavvik): an invoice line whose net unit price differs from the agreed "
    "price-list price (the lowest of the agreements active for the line, valid on the invoice "
    "date) by more than the tolerance. Deviation = (invoiced − agreed) / agreed; excess paid = "
    "(invoiced − agreed) × quantity in the cooperation's currency (n/a when the line has no "
    "quantity)."
)
DUPLICATES = (
    "Possible duplicate (mulig dobbeltfakturering): two invoices of the same member and supplier "
    "with the same invoice id in two deliveries (or twice in one), or with the same positive "
    "amount under different invoice ids within a few days. Each invoice is listed at most once "
    "per rule: a later copy with the first copy, an invoice with the nearest earlier one of the "
    "same amount. Check them against the ledger before asking the supplier for a credit note."
)
UNPAIRED_PAYEES = (
    "Not paired (ikke kontrollert): the payee's invoices of the year are left out of the "
    "duplicate pairs, because its lines have no supplier identity, its name matches one of "
    "`cooperation.catch_all_payees` (a card issuer, redacted personal data, …), or it would give "
    "more pairs than `cooperation.duplicate_max_pairs_per_supplier`. Check these payees in the "
    "member's own ledger."
)


snapshot = ui.require_snapshot()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(f"{cooperation['cooperation_name']}: follow-up (oppfølging)")
st.caption(
    "Lists for the host's procurement unit (innkjøpsenheten) to act on. "
    f"Amounts in {currency}, net of VAT · {ui.published_text(snapshot)}"
)

choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(
        "The snapshot holds no figures yet: `marts.municipality_kpis` has no row for the whole "
        f"cooperation ('{queries.ALL}'). Check that the members' spend was loaded, then run "
        f"`{queries.RUN_COMMAND}` again."
    )
    st.stop()

member_rows = queries.members(snapshot)
names: dict[str, str] = {
    str(mid): (str(name) if not is_missing(name) else str(mid))
    for mid, name in zip(
        member_rows["municipality_id"], member_rows["municipality_name"], strict=True
    )
}
labels = {queries.ALL: ALL_LABEL, **names}

member_column, year_column = st.columns([2, 1])
member = member_column.selectbox(
    "Member (kommune)",
    list(labels),
    format_func=lambda municipality_id: labels[municipality_id],
    key="followup_member",
)
year = ui.year_selector(choice, key="followup_year", container=year_column)
who = labels[member]
every_member = member == queries.ALL
export_scope = f"--year {year}" + ("" if every_member else f" --municipality {member}")


def amount_text(value: Any) -> str:
    return fmt_amount(value, currency)


def source_references(files: pd.Series, rows: pd.Series) -> list[str]:
    """Where a line was delivered: "file, row N"."""
    return [f"{file}, row {row}" for file, row in zip(files, rows, strict=True)]


def member_name(municipality_id: Any) -> str:
    return names.get(str(municipality_id), str(municipality_id))


def show_table(
    table: pd.DataFrame, formats: Mapping[str, Callable[[Any], str]], key: str, mart: str
) -> None:
    """A numbered table of at most MAX_ROWS rows; says where the rest is when cut."""
    total = len(table)
    if not every_member:
        table = table.drop(columns=["Member"], errors="ignore")
    shown = table.head(MAX_ROWS).copy()
    shown.index = range(1, len(shown) + 1)
    st.dataframe(
        shown.style.format({column: formats[column] for column in formats if column in shown}),
        key=key,
        height=35 * (min(len(shown), 15) + 1) + 3,
        placeholder=NOT_AVAILABLE,  # a NULL the mart left undefined, not "None"
    )
    if total > MAX_ROWS:
        st.caption(
            f"The first {MAX_ROWS} of {total} rows. All of them: "
            f"`samkjop export {mart.removeprefix('marts.')} {export_scope} --out DIR`."
        )


# --- 1. Threshold crossings -------------------------------------------------------------
st.subheader(f"Threshold crossings (terskelverdier), {year}")
st.caption(
    f"Source: `marts.threshold_flags`, crossings whose month end is in {year}, latest first. "
    f"{THRESHOLDS} The thresholds are `cooperation.thresholds` of cooperation.yml."
)
if not ui.mart_missing(snapshot, "marts.threshold_flags"):
    counts = queries.threshold_counts(snapshot, member, year)
    if counts.empty:
        st.info("`marts.threshold_flags` has no crossings at all in this snapshot.")
    else:
        for column, row in zip(st.columns(len(counts)), counts.itertuples(), strict=True):
            column.metric(
                f"Crossed {fmt_amount(row.threshold, currency)}",
                fmt_amount(row.crossing_count),
                help=f"Crossings of {fmt_amount(row.threshold, currency)} by {who} in {year}; "
                f"{fmt_amount(row.without_agreement_count)} of them in a category without an "
                "agreement.",
                border=True,
            )
        crossings = queries.threshold_crossings(snapshot, member, year)
        if crossings.empty:
            st.info(f"No threshold crossed by {who} in {year}.")
        else:
            show_table(
                pd.DataFrame(
                    {
                        "Month end": crossings["month_end"],
                        "Member": crossings["municipality_id"].map(member_name),
                        "Supplier": crossings["supplier_name"],
                        "Supplier key": crossings["supplier_key"],
                        "Category": crossings["category_id"],
                        "Threshold": crossings["threshold"],
                        "Trailing 12 months": crossings["trailing_12m_spend"],
                        "Agreement for category": crossings["has_agreement_for_category"],
                    }
                ),
                {
                    "Month end": fmt_date,
                    "Threshold": amount_text,
                    "Trailing 12 months": amount_text,
                },
                key="followup_threshold_crossings",
                mart="marts.threshold_flags",
            )
            st.caption(
                "Supplier key: the organisation number, or 'name:' and the normalised name "
                "where the invoices had none. Agreement for category not ticked: there was no "
                "agreement to use on the month end, so a competition is needed above the "
                "threshold."
            )

# --- 2. Purchases outside agreements -----------------------------------------------------
st.subheader(f"Purchases outside agreements (kjøp utenfor avtale), {year}")
st.caption(f"Source: `marts.off_agreement_purchases`, largest first. {OFF_AGREEMENT}")
if not ui.mart_missing(snapshot, "marts.off_agreement_purchases"):
    purchases = queries.off_agreement_purchases(snapshot, member, year)
    if purchases.empty:
        st.info(f"No purchases outside agreements by {who} in {year}.")
    else:
        totals = st.columns(2)
        totals[0].metric(
            "Off-agreement spend (kjøp utenfor avtale)",
            amount_text(purchases["off_agreement_spend"].sum()),
            help=f"Sum of the rows below: {who}, {year}. Credit notes count as they are.",
            border=True,
        )
        totals[1].metric(
            "Suppliers outside agreements",
            fmt_amount(purchases["supplier_key"].nunique()),
            help="Distinct suppliers (by organisation number, or by name where none).",
            border=True,
        )
        show_table(
            pd.DataFrame(
                {
                    "Member": purchases["municipality_id"].map(member_name),
                    "Department": purchases["department"].fillna("–"),
                    "Supplier": purchases["supplier_name"],
                    "Organisation number": purchases["supplier_org_no"].map(fmt_org_no),
                    "Category": purchases["category_name"].fillna(purchases["category_id"]),
                    "Off-agreement spend": purchases["off_agreement_spend"],
                    "Agreements to use": purchases["agreements_to_use"],
                    "Their suppliers": purchases["agreement_suppliers"],
                    "Invoices": purchases["invoice_count"],
                    "Lines": purchases["line_count"],
                    "First invoice": purchases["first_invoice_date"],
                    "Last invoice": purchases["last_invoice_date"],
                }
            ),
            {
                "Off-agreement spend": amount_text,
                "Invoices": fmt_amount,
                "Lines": fmt_amount,
                "First invoice": fmt_date,
                "Last invoice": fmt_date,
            },
            key="followup_off_agreement_purchases",
            mart="marts.off_agreement_purchases",
        )
        st.caption(
            "Agreements to use: 'id: name' of every agreement active for at least one of the "
            "purchases; their suppliers as 'name (organisation number)'. Department '–': the "
            "source had no department (ansvar). Organisation number '–': the invoices had none."
        )

# --- 3. Agreements expiring ------------------------------------------------------------------
st.subheader("Agreements expiring within 6 months (avtaler som utløper)")
st.caption(
    "Source: `marts.agreement_followup`, "
    + ("the whole agreements ('ALL' rows)" if every_member else f"the rows of {who}")
    + " where is_expiring_within_6_months. "
    "Measured from the as-of date (the last invoice date in the data unless the dbt var "
    f"`as_of_date` is set), so not filtered by year. {EXPIRING}"
)
if not ui.mart_missing(snapshot, "marts.agreement_followup"):
    as_of = queries.agreement_as_of_date(snapshot)
    expiring = queries.expiring_agreements(snapshot, member)
    st.metric(
        f"Expiring within 6 months of {fmt_date(as_of)}",
        fmt_amount(len(expiring)),
        help=f"Agreements {who} takes part in whose last day is {fmt_date(as_of)} or within 6 "
        "months after it.",
        border=True,
        width=320,
    )
    if expiring.empty:
        st.info(f"No agreement of {who} expires within 6 months of {fmt_date(as_of)}.")
    else:
        table = pd.DataFrame(
            {
                "Agreement": expiring["agreement_id"],
                "Name": expiring["agreement_name"],
                "Scope": expiring["scope"],
                "Valid from": expiring["valid_from"],
                "Valid to": expiring["valid_to"],
                "Days to expiry": expiring["days_to_expiry"],
                "Covered spend, 12 months": expiring["trailing_12m_covered_spend"],
                "On-agreement spend, 12 months": expiring["trailing_12m_on_agreement_spend"],
            }
        )
        if every_member:
            table["Estimated annual volume"] = expiring["estimated_annual_volume"]
        show_table(
            table,
            {
                "Valid from": fmt_date,
                "Valid to": fmt_date,
                "Days to expiry": fmt_amount,
                "Covered spend, 12 months": amount_text,
                "On-agreement spend, 12 months": amount_text,
                "Estimated annual volume": amount_text,
            },
            key="followup_expiring_agreements",
            mart="marts.agreement_followup",
        )
        st.caption(
            "Scope: national, cooperation (fellesavtale) or local. Estimated annual volume "
            "from the agreement register, for the whole agreement ('n/a': not given)."
        )

# --- 4. Price deviations ---------------------------------------------------------------------
st.subheader(f"Price deviations (prisavvik), {year}")
st.caption(
    f"Source: `marts.price_deviations`, invoice lines dated in {year}: above the agreed price "
    f"first, the most paid above it first; then those below it. {PRICES} The tolerance is "
    "`cooperation.price_tolerance` of cooperation.yml."
)
if not ui.mart_missing(snapshot, "marts.price_deviations"):
    deviations = queries.price_deviations(snapshot, member, year)
    if deviations.empty:
        st.info(f"No invoice line of {who} in {year} deviates from its agreed price.")
    else:
        above = deviations[deviations["direction"] == "above"]
        figures = st.columns(3)
        figures[0].metric(
            "Lines above the agreed price",
            fmt_amount(len(above)),
            border=True,
        )
        figures[1].metric(
            "Paid above the agreed price",
            amount_text(above["excess_amount"].sum(min_count=1)),
            help="Sum of the excess paid on the lines above the agreed price that have a "
            "quantity ('n/a': none has).",
            border=True,
        )
        figures[2].metric(
            "Lines below the agreed price",
            fmt_amount(int((deviations["direction"] == "below").sum())),
            border=True,
        )
        show_table(
            pd.DataFrame(
                {
                    "Member": deviations["municipality_id"].map(member_name),
                    "Invoice date": deviations["invoice_date"],
                    "Supplier": deviations["supplier_name"],
                    "Item": deviations["item_id"],
                    "Description": deviations["description"],
                    "Invoiced unit price": [
                        fmt_price(price, line_currency)
                        for price, line_currency in zip(
                            deviations["invoiced_unit_price"], deviations["currency"], strict=True
                        )
                    ],
                    "Agreed unit price": [
                        fmt_price(price, list_currency)
                        for price, list_currency in zip(
                            deviations["agreed_unit_price"],
                            deviations["price_list_currency"],
                            strict=True,
                        )
                    ],
                    "Deviation": deviations["deviation"],
                    "Excess paid": deviations["excess_amount"],
                    "Quantity": deviations["quantity"],
                    "Invoice": deviations["invoice_id"],
                    "Line": deviations["line_no"],
                    "Agreement": deviations["agreement_id"],
                    "Source": source_references(
                        deviations["source_file"], deviations["source_row"]
                    ),
                }
            ),
            {
                "Invoice date": fmt_date,
                "Quantity": fmt_quantity,
                "Deviation": fmt_pct,
                "Excess paid": amount_text,
            },
            key="followup_price_deviations",
            mart="marts.price_deviations",
        )
        st.caption(
            "Unit prices in the invoice's and the price list's own currency; deviation and "
            "excess compare them in the cooperation's currency. A negative excess: paid less "
            "than agreed, or a credit note returning overcharged items."
        )

# --- 5. Possible duplicate invoices ---------------------------------------------------------
st.subheader(f"Possible duplicate invoices (mulig dobbeltfakturering), {year}")
st.caption(
    "Source: `marts.possible_duplicate_invoices`, pairs whose first (earlier) invoice is dated "
    f"in {year}, the largest amounts first. {DUPLICATES}"
)
if not ui.mart_missing(snapshot, "marts.possible_duplicate_invoices"):
    pairs = queries.possible_duplicate_invoices(snapshot, member, year)
    if pairs.empty:
        st.info(f"No possible duplicate invoices for {who} in {year}.")
    else:
        reasons = pairs["reason"].value_counts().sort_index()
        for column, (reason, count) in zip(st.columns(len(reasons)), reasons.items(), strict=True):
            column.metric(str(reason).capitalize(), fmt_amount(count), border=True)
        show_table(
            pd.DataFrame(
                {
                    "Member": pairs["municipality_id"].map(member_name),
                    "Supplier": pairs["supplier_name"].fillna(pairs["supplier_key"]),
                    "Reason": pairs["reason"],
                    "First invoice": pairs["first_invoice_id"],
                    "First date": pairs["first_invoice_date"],
                    "First amount": pairs["first_amount"],
                    "Second invoice": pairs["second_invoice_id"],
                    "Second date": pairs["second_invoice_date"],
                    "Second amount": pairs["second_amount"],
                    "Days apart": pairs["days_apart"],
                    "Same delivery": pairs["is_same_delivery"],
                    "First delivered in": source_references(
                        pairs["first_source_file"], pairs["first_source_row"]
                    ),
                    "Second delivered in": source_references(
                        pairs["second_source_file"], pairs["second_source_row"]
                    ),
                }
            ),
            {
                "First date": fmt_date,
                "First amount": amount_text,
                "Second date": fmt_date,
                "Second amount": amount_text,
                "Days apart": fmt_amount,
            },
            key="followup_possible_duplicate_invoices",
            mart="marts.possible_duplicate_invoices",
        )
        st.caption(
            "Amounts are the invoices' totals (net of VAT). Same delivery ticked: one file holds "
            "the invoice twice. Three copies of one invoice give two pairs, each with the first "
            "copy."
        )

# --- 6. Payees not paired -------------------------------------------------------------------
st.subheader(f"Payees not checked for duplicates (ikke kontrollert), {year}")
st.caption(
    f"Source: `marts.possible_duplicate_payees`, payees with invoices in {year}, the largest "
    f"amounts first. {UNPAIRED_PAYEES}"
)
if not ui.mart_missing(snapshot, "marts.possible_duplicate_payees"):
    payees = queries.possible_duplicate_payees(snapshot, member, year)
    if payees.empty:
        st.info(f"Every payee of {who} in {year} was checked for duplicate invoices.")
    else:
        show_table(
            pd.DataFrame(
                {
                    "Member": payees["municipality_id"].map(member_name),
                    "Payee": payees["supplier_name"].fillna(payees["supplier_key"]),
                    "Not paired because": payees["reason"],
                    "Invoices": payees["invoice_count"],
                    "Amount": payees["amount"],
                    "Possible pairs": payees["pair_count"],
                    "First invoice": payees["first_invoice_date"],
                    "Last invoice": payees["last_invoice_date"],
                }
            ),
            {
                "Invoices": fmt_amount,
                "Amount": amount_text,
                "Possible pairs": fmt_amount,
                "First invoice": fmt_date,
                "Last invoice": fmt_date,
            },
            key="followup_possible_duplicate_payees",
            mart="marts.possible_duplicate_payees",
        )
        st.caption(
            "Payee 'name:': lines without any supplier. Possible pairs: what the two rules would "
            "have listed for the year."
        )
