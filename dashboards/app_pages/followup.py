"""Follow-up (oppfølging / opfølgning) for the host's procurement unit (innkjøpsenheten).

UI only: every number comes from `dashboards.queries`, which reads the marts of the
published snapshot; every text from the catalogues (dashboards/locales/*/followup.yaml)
in the reader's language, every figure in its locale (dashboards.formatting). Each
section's rule and source mart are in its help expander; a section whose mart the
snapshot lacks says so and the other sections are still drawn. Filters: member (or the
whole cooperation; `?member=` from the Member page's link) and year, kept in the URL.

Privacy (dashboards.privacy): this is the procurement unit's page, so payees keep their
names here (as in the unit's exports), but every table that names payees marks the
private persons by the same rule the council pages use to hide them, and a personal
identity number in an organisation-number text is masked (pipelines.orgno).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import queries, ui
from dashboards.formatting import (
    MISSING,
    currency_symbol,
    format_amount,
    format_date,
    format_number,
    format_percent,
    is_missing,
)
from dashboards.i18n import has_key
from dashboards.ui import t
from pipelines.orgno import mask_personal_id_numbers, masked_org_no

MAX_ROWS = 500  # rows per table; the download buttons give all of them

snapshot = ui.require_snapshot()
language = ui.language()
cooperation = queries.cooperation(snapshot)
currency = cooperation["currency"]

st.title(t("followup.heading", name=cooperation["cooperation_name"]))
st.caption(
    t("followup.intro")
    + " · "
    + t("common.amounts_in", currency=currency_symbol(currency, language))
    + " · "
    + ui.published_text(snapshot)
)

choice = queries.year_choice(snapshot)
if not choice.years:
    st.info(t("common.no_figures", command=queries.RUN_COMMAND))
    st.stop()

member_rows = queries.members(snapshot)
names: dict[str, str] = {
    str(mid): (str(name) if not is_missing(name) else str(mid))
    for mid, name in zip(
        member_rows["municipality_id"], member_rows["municipality_name"], strict=True
    )
}
labels = ui.member_labels(member_rows)
member_column, year_column = st.columns([2, 1])
# ?member=<id>: the Member page links here filtered to one member
member = ui.member_selector(member_rows, key="followup_member", container=member_column)
year = ui.year_selector(choice, key="followup_year", container=year_column)
who = labels[member]
every_member = member == queries.ALL
download_member = None if every_member else member

# column names, in the reader's language (the tables' headers)
MEMBER = t("common.member")
SUPPLIER = t("common.supplier")
PRIVATE = t("followup.column.private_person")


def amount(value: Any) -> str:
    return format_amount(value, currency, language)


def count(value: Any) -> str:
    return format_number(value, language)


def day(value: Any) -> str:
    return format_date(value, language)


def percent(value: Any) -> str:
    return format_percent(value, language)


def price(value: Any, price_currency: Any) -> str:
    """A unit price with two decimals in its own currency: '1 200,00 kr' (nb)."""
    if is_missing(value):
        return MISSING
    sign = currency_symbol(str(price_currency), language) if not is_missing(price_currency) else ""
    return f"{format_number(value, language, 2)}\u00a0{sign}".rstrip()


def quantity(value: Any) -> str:
    """A quantity with the decimals it has (at most 4): 5 -> '5', 2.5 -> '2,5' (nb)."""
    if is_missing(value):
        return MISSING
    decimals = f"{abs(float(value)):.4f}".rstrip("0").split(".")[1]
    return format_number(value, language, len(decimals))


def org_no(value: Any) -> str:
    """An organisation number, or '–' where there is none; a personal identity number is
    never shown (pipelines.orgno)."""
    if is_missing(value) or str(value).strip() == "":
        return MISSING
    return str(masked_org_no(str(value)))


def key_org_no(key: Any) -> str:
    """The organisation number a supplier key is (digits), else '–' (a name or register key)."""
    text = "" if is_missing(key) else str(key)
    return org_no(text) if text.isdigit() else MISSING


def payee_name(name: Any, key: Any) -> str:
    """The payee's name; one without a name or identity is said so, not shown as 'name:'."""
    if not is_missing(name) and str(name).strip():
        return str(name)
    text = "" if is_missing(key) else str(key)
    if text in ("", "name:"):
        return t("followup.no_supplier")
    return text.removeprefix("name:")


def source_references(files: pd.Series, rows: pd.Series) -> list[str]:
    """Where a line was delivered: 'file, row N' (a file name, never a server path)."""
    return [
        t("followup.source_row", file=str(file).replace("\\", "/").rsplit("/", 1)[-1], row=row)
        for file, row in zip(files, rows, strict=True)
    ]


def member_name(municipality_id: Any) -> str:
    return names.get(str(municipality_id), str(municipality_id))


# The marts' reasons are English sentences; each is shown in the reader's language.
REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"same invoice id delivered twice"), "followup.reason.same_invoice_id"),
    (
        re.compile(r"same amount within (?P<days>\d+) days under another invoice id"),
        "followup.reason.same_amount",
    ),
    (re.compile(r"no supplier identity"), "followup.reason.no_identity"),
    (re.compile(r"catch-all payee \(pattern (?P<pattern>.*)\)"), "followup.reason.catch_all"),
    (re.compile(r"more than (?P<count>\d+) possible pairs"), "followup.reason.too_many_pairs"),
)


def reason_text(reason: Any) -> str:
    text = "" if is_missing(reason) else str(reason)
    for pattern, key in REASONS:
        found = pattern.fullmatch(text)
        if found:
            return t(key, **found.groupdict())
    return text


def scope_text(scope: Any) -> str:
    """national / cooperation / local in the reader's language (an unknown scope as is)."""
    if is_missing(scope):
        return MISSING
    key = f"followup.scope.{scope}"
    return t(key) if has_key(key, language) else str(scope)


def show_table(
    table: pd.DataFrame,
    formats: Mapping[str, Callable[[Any], str]],
    key: str,
    export: str,
) -> None:
    """A numbered table of at most MAX_ROWS rows (values kept, so that it sorts as
    numbers; shown in the reader's locale), and the whole table with the page's filters
    as CSV and Excel (the same files as `samkjop export`)."""
    total = len(table)
    if not every_member:
        table = table.drop(columns=[MEMBER], errors="ignore")
    shown = table.head(MAX_ROWS).copy()
    shown.index = range(1, len(shown) + 1)
    st.dataframe(
        shown.style.format({column: formats[column] for column in formats if column in shown}),
        key=key,
        height=35 * (min(len(shown), 15) + 1) + 3,
        placeholder=MISSING,  # a NULL the mart left undefined, not "None"
    )
    if total > MAX_ROWS:
        st.caption(t("followup.first_rows", shown=count(MAX_ROWS), total=count(total)))
    ui.download_buttons(
        snapshot,
        export,
        f"{key}_download",
        municipality=download_member,
        year=None if export == "agreement_followup" else year,
    )


st.caption(t("followup.privacy_note"))

# --- 1. Threshold crossings -------------------------------------------------------------
st.subheader(t("followup.thresholds.heading", year=year))
if not ui.mart_missing(snapshot, "marts.threshold_flags"):
    counts = queries.threshold_counts(snapshot, member, year)
    if counts.empty:
        st.info(t("followup.thresholds.none_at_all"))
    else:
        for column, row in zip(st.columns(len(counts)), counts.itertuples(), strict=True):
            column.metric(
                t("followup.thresholds.crossed", threshold=amount(row.threshold)),
                count(row.crossing_count),
                help=t(
                    "followup.thresholds.crossed_help",
                    threshold=amount(row.threshold),
                    member=who,
                    year=year,
                    without=count(row.without_agreement_count),
                ),
                border=True,
            )
        crossings = queries.threshold_crossings(snapshot, member, year)
        if crossings.empty:
            st.info(t("followup.thresholds.none", member=who, year=year))
        else:
            show_table(
                pd.DataFrame(
                    {
                        t("followup.column.month_end"): crossings["month_end"],
                        MEMBER: crossings["municipality_id"].map(member_name),
                        SUPPLIER: [
                            payee_name(name, key)
                            for name, key in zip(
                                crossings["supplier_name"], crossings["supplier_key"], strict=True
                            )
                        ],
                        PRIVATE: crossings["is_private_person"].astype(bool),
                        t("common.org_no"): crossings["supplier_key"].map(key_org_no),
                        t("common.category"): crossings["category_name"],
                        t("followup.column.threshold"): crossings["threshold"],
                        t("followup.column.trailing_12m"): crossings["trailing_12m_spend"],
                        t("followup.column.agreement_for_category"): crossings[
                            "has_agreement_for_category"
                        ],
                    }
                ),
                {
                    t("followup.column.month_end"): day,
                    t("followup.column.threshold"): amount,
                    t("followup.column.trailing_12m"): amount,
                },
                key="followup_threshold_crossings",
                export="threshold_flags",
            )
            st.caption(t("followup.thresholds.table_note"))
ui.about(
    [],
    ["threshold_flags"],
    [t("followup.thresholds.rule"), t("followup.thresholds.source", year=year)],
)

# --- 2. Purchases outside agreements -----------------------------------------------------
st.subheader(t("followup.off_agreement.heading", year=year))
if not ui.mart_missing(snapshot, "marts.off_agreement_purchases"):
    purchases = queries.off_agreement_purchases(snapshot, member, year)
    if purchases.empty:
        st.info(t("followup.off_agreement.none", member=who, year=year))
    else:
        totals = st.columns(2)
        totals[0].metric(
            ui.metric_name("off_agreement_spend"),
            amount(purchases["off_agreement_spend"].sum()),
            help=t("followup.off_agreement.total_help", member=who, year=year),
            border=True,
        )
        totals[1].metric(
            t("followup.off_agreement.suppliers"),
            count(purchases["supplier_key"].nunique()),
            help=t("followup.off_agreement.suppliers_help"),
            border=True,
        )
        show_table(
            pd.DataFrame(
                {
                    MEMBER: purchases["municipality_id"].map(member_name),
                    t("followup.column.department"): purchases["department"].fillna(MISSING),
                    SUPPLIER: [
                        payee_name(name, key)
                        for name, key in zip(
                            purchases["supplier_name"], purchases["supplier_key"], strict=True
                        )
                    ],
                    PRIVATE: purchases["is_private_person"].astype(bool),
                    t("common.org_no"): purchases["supplier_org_no"].map(org_no),
                    t("common.category"): purchases["category_name"].fillna(
                        purchases["category_id"]
                    ),
                    t("followup.column.off_agreement_spend"): purchases["off_agreement_spend"],
                    t("followup.column.agreements_to_use"): purchases["agreements_to_use"],
                    t("followup.column.their_suppliers"): purchases["agreement_suppliers"].map(
                        lambda text: None if is_missing(text) else mask_personal_id_numbers(text)
                    ),
                    t("followup.column.invoices"): purchases["invoice_count"],
                    t("followup.column.lines"): purchases["line_count"],
                    t("followup.column.first_invoice"): purchases["first_invoice_date"],
                    t("followup.column.last_invoice"): purchases["last_invoice_date"],
                }
            ),
            {
                t("followup.column.off_agreement_spend"): amount,
                t("followup.column.invoices"): count,
                t("followup.column.lines"): count,
                t("followup.column.first_invoice"): day,
                t("followup.column.last_invoice"): day,
            },
            key="followup_off_agreement_purchases",
            export="off_agreement_purchases",
        )
        st.caption(t("followup.off_agreement.table_note"))
ui.about(
    ["off_agreement_spend"],
    ["off_agreement_purchases"],
    [t("followup.off_agreement.rule")],
)

# --- 3. Agreements expiring ------------------------------------------------------------------
st.subheader(t("followup.expiring.heading"))
if not ui.mart_missing(snapshot, "marts.agreement_followup"):
    as_of = queries.agreement_as_of_date(snapshot)
    expiring = queries.expiring_agreements(snapshot, member)
    st.metric(
        t("followup.expiring.metric", date=day(as_of)),
        count(len(expiring)),
        help=t("followup.expiring.metric_help", member=who, date=day(as_of)),
        border=True,
        width=320,
    )
    if expiring.empty:
        st.info(t("followup.expiring.none", member=who, date=day(as_of)))
    else:
        table = pd.DataFrame(
            {
                t("followup.column.agreement"): expiring["agreement_id"],
                t("followup.column.name"): expiring["agreement_name"],
                t("followup.column.scope"): expiring["scope"].map(scope_text),
                t("followup.column.valid_from"): expiring["valid_from"],
                t("followup.column.valid_to"): expiring["valid_to"],
                t("followup.column.days_to_expiry"): expiring["days_to_expiry"],
                t("followup.column.covered_12m"): expiring["trailing_12m_covered_spend"],
                t("followup.column.on_agreement_12m"): expiring["trailing_12m_on_agreement_spend"],
            }
        )
        if every_member:
            table[t("followup.column.estimated_volume")] = expiring["estimated_annual_volume"]
        show_table(
            table,
            {
                t("followup.column.valid_from"): day,
                t("followup.column.valid_to"): day,
                t("followup.column.days_to_expiry"): count,
                t("followup.column.covered_12m"): amount,
                t("followup.column.on_agreement_12m"): amount,
                t("followup.column.estimated_volume"): amount,
            },
            key="followup_expiring_agreements",
            export="agreement_followup",
        )
        st.caption(t("followup.expiring.table_note"))
ui.about(
    [],
    ["agreement_followup"],
    [
        t("followup.expiring.rule"),
        t("followup.expiring.source_all")
        if every_member
        else t("followup.expiring.source_member", member=who),
    ],
)

# --- 4. Price deviations ---------------------------------------------------------------------
st.subheader(t("followup.prices.heading", year=year))
if not ui.mart_missing(snapshot, "marts.price_deviations"):
    deviations = queries.price_deviations(snapshot, member, year)
    if deviations.empty:
        st.info(t("followup.prices.none", member=who, year=year))
    else:
        above = deviations[deviations["direction"] == "above"]
        figures = st.columns(3)
        figures[0].metric(t("followup.prices.lines_above"), count(len(above)), border=True)
        figures[1].metric(
            t("followup.prices.paid_above"),
            amount(above["excess_amount"].sum(min_count=1)),
            help=t("followup.prices.paid_above_help"),
            border=True,
        )
        figures[2].metric(
            t("followup.prices.lines_below"),
            count(int((deviations["direction"] == "below").sum())),
            border=True,
        )
        show_table(
            pd.DataFrame(
                {
                    MEMBER: deviations["municipality_id"].map(member_name),
                    t("followup.column.invoice_date"): deviations["invoice_date"],
                    SUPPLIER: [
                        payee_name(name, key)
                        for name, key in zip(
                            deviations["supplier_name"], deviations["supplier_key"], strict=True
                        )
                    ],
                    PRIVATE: deviations["is_private_person"].astype(bool),
                    t("followup.column.item"): deviations["item_id"],
                    t("followup.column.description"): deviations["description"],
                    t("followup.column.invoiced_price"): [
                        price(value, line_currency)
                        for value, line_currency in zip(
                            deviations["invoiced_unit_price"], deviations["currency"], strict=True
                        )
                    ],
                    t("followup.column.agreed_price"): [
                        price(value, list_currency)
                        for value, list_currency in zip(
                            deviations["agreed_unit_price"],
                            deviations["price_list_currency"],
                            strict=True,
                        )
                    ],
                    t("followup.column.deviation"): deviations["deviation"],
                    t("followup.column.excess_paid"): deviations["excess_amount"],
                    t("followup.column.quantity"): deviations["quantity"],
                    t("followup.column.invoice"): deviations["invoice_id"],
                    t("followup.column.line"): deviations["line_no"],
                    t("followup.column.agreement"): deviations["agreement_id"],
                    t("followup.column.source"): source_references(
                        deviations["source_file"], deviations["source_row"]
                    ),
                }
            ),
            {
                t("followup.column.invoice_date"): day,
                t("followup.column.quantity"): quantity,
                t("followup.column.deviation"): percent,
                t("followup.column.excess_paid"): amount,
            },
            key="followup_price_deviations",
            export="price_deviations",
        )
        st.caption(t("followup.prices.table_note"))
ui.about([], ["price_deviations"], [t("followup.prices.rule"), t("followup.prices.source")])

# --- 5. Possible duplicate invoices ---------------------------------------------------------
st.subheader(t("followup.duplicates.heading", year=year))
if not ui.mart_missing(snapshot, "marts.possible_duplicate_invoices"):
    pairs = queries.possible_duplicate_invoices(snapshot, member, year)
    if pairs.empty:
        st.info(t("followup.duplicates.none", member=who, year=year))
    else:
        reasons = pairs["reason"].value_counts().sort_index()
        for column, (reason, number) in zip(st.columns(len(reasons)), reasons.items(), strict=True):
            column.metric(reason_text(reason), count(number), border=True)
        show_table(
            pd.DataFrame(
                {
                    MEMBER: pairs["municipality_id"].map(member_name),
                    SUPPLIER: [
                        payee_name(name, key)
                        for name, key in zip(
                            pairs["supplier_name"], pairs["supplier_key"], strict=True
                        )
                    ],
                    PRIVATE: pairs["is_private_person"].astype(bool),
                    t("followup.column.reason"): pairs["reason"].map(reason_text),
                    t("followup.column.first_invoice_id"): pairs["first_invoice_id"],
                    t("followup.column.first_date"): pairs["first_invoice_date"],
                    t("followup.column.first_amount"): pairs["first_amount"],
                    t("followup.column.second_invoice_id"): pairs["second_invoice_id"],
                    t("followup.column.second_date"): pairs["second_invoice_date"],
                    t("followup.column.second_amount"): pairs["second_amount"],
                    t("followup.column.days_apart"): pairs["days_apart"],
                    t("followup.column.same_delivery"): pairs["is_same_delivery"],
                    t("followup.column.first_delivered_in"): source_references(
                        pairs["first_source_file"], pairs["first_source_row"]
                    ),
                    t("followup.column.second_delivered_in"): source_references(
                        pairs["second_source_file"], pairs["second_source_row"]
                    ),
                }
            ),
            {
                t("followup.column.first_date"): day,
                t("followup.column.first_amount"): amount,
                t("followup.column.second_date"): day,
                t("followup.column.second_amount"): amount,
                t("followup.column.days_apart"): count,
            },
            key="followup_possible_duplicate_invoices",
            export="possible_duplicate_invoices",
        )
        st.caption(t("followup.duplicates.table_note"))
ui.about(
    [],
    ["possible_duplicate_invoices"],
    [t("followup.duplicates.rule"), t("followup.duplicates.source", year=year)],
)

# --- 6. Payees not paired -------------------------------------------------------------------
st.subheader(t("followup.unpaired.heading", year=year))
if not ui.mart_missing(snapshot, "marts.possible_duplicate_payees"):
    payees = queries.possible_duplicate_payees(snapshot, member, year)
    if payees.empty:
        st.info(t("followup.unpaired.none", member=who, year=year))
    else:
        show_table(
            pd.DataFrame(
                {
                    MEMBER: payees["municipality_id"].map(member_name),
                    t("followup.column.payee"): [
                        payee_name(name, key)
                        for name, key in zip(
                            payees["supplier_name"], payees["supplier_key"], strict=True
                        )
                    ],
                    PRIVATE: payees["is_private_person"].astype(bool),
                    t("followup.column.not_paired_because"): payees["reason"].map(reason_text),
                    t("followup.column.invoices"): payees["invoice_count"],
                    t("followup.column.amount"): payees["amount"],
                    t("followup.column.possible_pairs"): payees["pair_count"],
                    t("followup.column.first_invoice"): payees["first_invoice_date"],
                    t("followup.column.last_invoice"): payees["last_invoice_date"],
                }
            ),
            {
                t("followup.column.invoices"): count,
                t("followup.column.amount"): amount,
                t("followup.column.possible_pairs"): count,
                t("followup.column.first_invoice"): day,
                t("followup.column.last_invoice"): day,
            },
            key="followup_possible_duplicate_payees",
            export="possible_duplicate_payees",
        )
        st.caption(t("followup.unpaired.table_note"))
ui.about(
    [],
    ["possible_duplicate_payees"],
    [t("followup.unpaired.rule"), t("followup.unpaired.source", year=year)],
)
