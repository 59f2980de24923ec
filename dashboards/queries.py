"""Every query the dashboards run. Pages call these functions and hold only UI.

The dashboards read ONLY the published snapshot: a read-only DuckDB file that
`samkjop run` publishes and whose path `samkjop dashboards --config ...` passes
in the environment variable SAMKJOP_SNAPSHOT. Each query opens the file
read-only, reads and closes it again; a connection is never cached or kept open
(it would hold a lock the publisher needs). What is cached, with
`st.cache_data`, is the query's result, keyed by the snapshot's path and
modification time so that a newly published snapshot is read at once.

The marts and columns read here are listed in REQUIRED_COLUMNS (every page needs
them) and FOLLOWUP_COLUMNS (one mart per section of the follow-up page): that is
the dashboard's contract with the dbt project.

The council pages' tables that name payees are read through ViewQuery builders
(`*_view`): the same SQL, with the privacy rule of dashboards.privacy and the masking of
personal identity numbers (`masked`), is what their downloads write
(pipelines.export.COUNCIL_VIEWS).

Member filter: `ALL` means the cooperation as a whole. Marts with an 'ALL' row
(agreement_followup) are read at that row; marts without one (threshold_flags,
off_agreement_purchases, price_deviations, possible_duplicate_invoices,
possible_duplicate_payees) are read for every member. The year filter is the one
`samkjop export` uses for the mart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from dashboards import SNAPSHOT_ENV
from dashboards.privacy import PRIVATE_KEY, is_private_person_sql, shown_key_sql, shown_sql
from pipelines.export import MASK_FUNCTION, register_mask_function

RUN_COMMAND = "samkjop run --config cooperation.yml"
ALL = "ALL"  # municipality_id of the cooperation as a whole in the marts

COMPLETENESS_COLUMNS = (
    "municipality_id",
    "year",
    "is_complete_year",
    "is_default_year",
    "delivering_member_count",
    "complete_member_count",
    "member_count",
)
# The marts and columns the dashboards read: their contract with dbt.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "marts.snapshot_info": ("published_at", "warehouse"),
    "marts.cooperation": (
        "cooperation_name",
        "country",
        "currency",
        "host_municipality_id",
        "loyalty_target",
        "coverage_target",
    ),
    "marts.dim_municipalities": ("municipality_id", "municipality_name", "population", "is_host"),
    "marts.municipality_kpis": (
        "municipality_id",
        "municipality_name",
        "year",
        "influenceable_spend",
        "covered_spend",
        "on_agreement_spend",
        "off_agreement_spend",
        "coverage",
        "loyalty",
        "shared_covered_spend",
        "shared_on_agreement_spend",
        "shared_coverage",
        "shared_loyalty",
    ),
    "marts.kpis_by_period": (
        "municipality_id",
        "municipality_name",
        "period_type",
        "period_start",
        "year",
        "quarter",
        "coverage",
        "loyalty",
        "shared_coverage",
        "shared_loyalty",
    ),
    "marts.off_agreement_suppliers": (
        "municipality_id",
        "year",
        "supplier_key",
        "supplier_org_no",
        "supplier_name",
        "off_agreement_spend",
        "covered_spend",
        "line_count",
    ),
    "marts.private_payees": ("supplier_key",),  # dashboards.privacy: never named
}

# The marts the follow-up page reads, one per section, and the columns it reads. They
# are not in REQUIRED_COLUMNS: a snapshot that lacks one of them still shows every
# other page and section, and the section names what is missing (ui.mart_missing).
FOLLOWUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "marts.delivery_reconciliation": (  # the deliveries page
        "municipality_id",
        "source_file",
        "status",
        "delivery_period",
        "loaded_at",
        "message",
    ),
    "marts.threshold_flags": (
        "municipality_id",
        "supplier_key",
        "supplier_name",
        "category_id",
        "month_end",
        "threshold",
        "trailing_12m_spend",
        "has_agreement_for_category",
    ),
    "marts.off_agreement_purchases": (
        "municipality_id",
        "year",
        "department",
        "supplier_key",
        "supplier_org_no",
        "supplier_name",
        "category_id",
        "category_name",
        "off_agreement_spend",
        "line_count",
        "invoice_count",
        "first_invoice_date",
        "last_invoice_date",
        "agreement_count",
        "agreements_to_use",
        "agreement_suppliers",
    ),
    "marts.agreement_followup": (
        "agreement_id",
        "agreement_name",
        "scope",
        "municipality_id",
        "year",
        "valid_from",
        "valid_to",
        "estimated_annual_volume",
        "as_of_date",
        "days_to_expiry",
        "is_expiring_within_6_months",
        "trailing_12m_covered_spend",
        "trailing_12m_on_agreement_spend",
    ),
    "marts.price_deviations": (
        "municipality_id",
        "invoice_id",
        "line_no",
        "source_file",
        "source_row",
        "invoice_date",
        "supplier_key",
        "supplier_name",
        "agreement_id",
        "item_id",
        "description",
        "quantity",
        "currency",
        "invoiced_unit_price",
        "price_list_currency",
        "agreed_unit_price",
        "direction",
        "deviation",
        "excess_amount",
        "category_id",
    ),
    "marts.possible_duplicate_invoices": (
        "municipality_id",
        "supplier_key",
        "supplier_name",
        "reason",
        "first_invoice_id",
        "first_invoice_date",
        "first_amount",
        "first_source_file",
        "first_source_row",
        "second_invoice_id",
        "second_invoice_date",
        "second_amount",
        "second_source_file",
        "second_source_row",
        "is_same_delivery",
        "days_apart",
    ),
    "marts.possible_duplicate_payees": (
        "municipality_id",
        "supplier_key",
        "supplier_name",
        "year",
        "reason",
        "invoice_count",
        "amount",
        "pair_count",
        "first_invoice_date",
        "last_invoice_date",
    ),
}

KPI_COLUMNS = REQUIRED_COLUMNS["marts.municipality_kpis"]
TREND_COLUMNS = REQUIRED_COLUMNS["marts.kpis_by_period"]


class SnapshotUnavailable(Exception):
    """The snapshot cannot be read. The message says what to do about it."""


@dataclass(frozen=True)
class Snapshot:
    """A published snapshot file; `version` (its mtime) is part of every cache key."""

    path: str
    version: int


def locate_snapshot(environ: Mapping[str, str] | None = None) -> Snapshot:
    """The snapshot named by SAMKJOP_SNAPSHOT, or SnapshotUnavailable saying why not."""
    environ = os.environ if environ is None else environ
    raw = environ.get(SNAPSHOT_ENV, "").strip()
    if not raw:
        raise SnapshotUnavailable(
            f"The environment variable {SNAPSHOT_ENV} is not set, so the dashboard does not "
            "know which data snapshot to show. Start the dashboards with "
            "`samkjop dashboards --config cooperation.yml`."
        )
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SnapshotUnavailable(
            f"No published data snapshot at `{path}` yet. The snapshot is written when the "
            "pipeline has run."
        )
    return Snapshot(path=str(path.resolve()), version=path.stat().st_mtime_ns)


@st.cache_data(show_spinner=False, ttl=3600, max_entries=512)
def _read(path: str, version: int, sql: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
    """Run one query on the snapshot, opened read-only for this query alone."""
    del version  # only part of the cache key: a republished snapshot is a new key
    try:
        con = duckdb.connect(path, read_only=True)
    except duckdb.Error as error:
        raise SnapshotUnavailable(f"The snapshot `{path}` cannot be opened: {error}") from error
    try:
        if MASK_FUNCTION in sql:  # masked(): delivered texts a council page shows
            register_mask_function(con)  # (about 20 ms: only for the queries that mask)
        return con.execute(sql, list(params)).df()
    finally:
        con.close()


def _query(snapshot: Snapshot, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    return _read(snapshot.path, snapshot.version, sql, tuple(params))


def missing_columns(
    snapshot: Snapshot, required: Mapping[str, Sequence[str]] = REQUIRED_COLUMNS
) -> list[str]:
    """What of `required` (by default REQUIRED_COLUMNS) the snapshot lacks: whole tables
    as `marts.x`, single columns as `marts.x.column`; empty when the snapshot has it all."""
    present = _query(
        snapshot,
        """
        select table_schema || '.' || table_name as table_name, column_name
        from information_schema.columns
        where table_schema = 'marts'
        """,
    )
    have = present.groupby("table_name")["column_name"].agg(set).to_dict()
    missing: list[str] = []
    for table, columns in required.items():
        if table not in have:
            missing.append(table)
        else:
            missing.extend(f"{table}.{column}" for column in columns if column not in have[table])
    return missing


def snapshot_info(snapshot: Snapshot) -> dict[str, Any] | None:
    """When and from which warehouse the snapshot was published (marts.snapshot_info)."""
    frame = _query(
        snapshot,
        "select published_at, warehouse from marts.snapshot_info "
        "order by published_at desc limit 1",
    )
    return None if frame.empty else frame.iloc[0].to_dict()


def cooperation(snapshot: Snapshot) -> dict[str, Any]:
    """The cooperation's name, country, currency, host and targets (marts.cooperation)."""
    frame = _query(
        snapshot,
        """
        select cooperation_name, country, currency, host_municipality_id,
            loyalty_target, coverage_target
        from marts.cooperation
        limit 1
        """,
    )
    if frame.empty:
        raise SnapshotUnavailable("The snapshot's marts.cooperation table is empty.")
    return frame.iloc[0].to_dict()


def members(snapshot: Snapshot) -> pd.DataFrame:
    """The member municipalities, host first (marts.dim_municipalities)."""
    return _query(
        snapshot,
        """
        select municipality_id, municipality_name, population, is_host
        from marts.dim_municipalities
        order by is_host desc, municipality_name, municipality_id
        """,
    )


def years(snapshot: Snapshot) -> list[int]:
    """The years with figures for the whole cooperation, latest first."""
    frame = _query(
        snapshot,
        "select distinct year from marts.municipality_kpis "
        "where municipality_id = ? and year is not null order by year desc",
        [ALL],
    )
    return [int(year) for year in frame["year"]]


@dataclass(frozen=True)
class YearChoice:
    """The years a page offers, the one it shows first, and which are partial."""

    years: list[int]
    default_index: int
    # year -> why it is partial: {"delivering": members with spend in it, "members": all
    # members, "complete": members with all 12 months}
    partial: dict[int, dict[str, int]]


def year_choice(snapshot: Snapshot) -> YearChoice:
    """The years with figures for the whole cooperation, latest first; the default is the
    latest year in which every member delivered all twelve months (marts.data_completeness
    decides it, as it does for `samkjop run`'s summary), else the latest year."""
    available = years(snapshot)
    if not missing_columns(snapshot, {"marts.data_completeness": COMPLETENESS_COLUMNS}):
        completeness = _query(
            snapshot,
            "select year, is_complete_year, is_default_year, delivering_member_count, "
            "complete_member_count, member_count from marts.data_completeness "
            "where municipality_id = ?",
            [ALL],
        )
        partial = {
            int(row.year): {
                "delivering": int(row.delivering_member_count),
                "members": int(row.member_count),
                "complete": int(row.complete_member_count),
            }
            for row in completeness.itertuples()
            if not row.is_complete_year
        }
        defaults = [int(y) for y in completeness.loc[completeness.is_default_year, "year"]]
    else:  # a snapshot published by an older version: no completeness to tell
        partial, defaults = {}, []
    index = available.index(defaults[0]) if defaults and defaults[0] in available else 0
    return YearChoice(available, index, partial)


def kpis_for_year(snapshot: Snapshot, year: int) -> pd.DataFrame:
    """One row per member and one for 'ALL' for the year (marts.municipality_kpis)."""
    columns = ", ".join(KPI_COLUMNS)
    return _query(
        snapshot,
        f"""
        select {columns}
        from marts.municipality_kpis
        where year = ?
        order by municipality_id = '{ALL}' desc, municipality_name, municipality_id
        """,
        [year],
    )


def quarterly_kpis(snapshot: Snapshot) -> pd.DataFrame:
    """Coverage and loyalty per member and 'ALL' per quarter (marts.kpis_by_period)."""
    columns = ", ".join(TREND_COLUMNS)
    return _query(
        snapshot,
        f"""
        select {columns}
        from marts.kpis_by_period
        where period_type = 'quarter'
        order by period_start, municipality_id
        """,
    )


def top_off_agreement_suppliers(
    snapshot: Snapshot, municipality_id: str, year: int, limit: int = 15
) -> pd.DataFrame:
    """The suppliers with the most off-agreement spend (marts.off_agreement_suppliers);
    private persons (dashboards.privacy) as one row without name or number.

    `share_of_off_agreement` is the supplier's part of all off-agreement spend of
    that municipality (or 'ALL') in that year.
    """
    return _query(
        snapshot,
        f"""
        with grouped as (
            select
                {shown_key_sql()} as supplier_key,
                any_value({shown_sql("supplier_org_no")}) as supplier_org_no,
                any_value({shown_sql("supplier_name")}) as supplier_name,
                sum(off_agreement_spend) as off_agreement_spend,
                sum(covered_spend) as covered_spend,
                sum(line_count) as line_count,
            from marts.off_agreement_suppliers
            where municipality_id = ? and year = ?
            group by all
        ),
        scoped as (
            select
                *,
                off_agreement_spend
                    / nullif(sum(off_agreement_spend) over (), 0) as share_of_off_agreement,
            from grouped
        )
        select * replace ({masked("supplier_name")} as supplier_name)
        from scoped
        where off_agreement_spend > 0
        order by off_agreement_spend desc, supplier_name, supplier_key
        limit ?
        """,
        [municipality_id, year, limit],
    )


# --- Follow-up page (oppfølging) ---------------------------------------------------------
# `member` is a municipality_id or ALL (every member). Each function reads one mart.

_MEMBER_FILTER = "(? = 'ALL' or municipality_id = ?)"


def threshold_counts(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """Per threshold in marts.threshold_flags (every threshold the mart has, also those
    with no crossing in the filter): crossings with month_end in `year`, and how many of
    them had no agreement for the category to use."""
    return _query(
        snapshot,
        f"""
        with thresholds as (
            select distinct threshold from marts.threshold_flags
        ),
        crossings as (
            select threshold, has_agreement_for_category
            from marts.threshold_flags
            where {_MEMBER_FILTER} and extract(year from month_end) = ?
        )
        select
            thresholds.threshold,
            count(crossings.threshold) as crossing_count,
            count(crossings.threshold) filter (
                where not crossings.has_agreement_for_category
            ) as without_agreement_count,
        from thresholds
        left join crossings on thresholds.threshold = crossings.threshold
        group by thresholds.threshold
        order by thresholds.threshold
        """,
        [member, member, year],
    )


def threshold_crossings(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """The crossings with month_end in `year`, latest first (marts.threshold_flags)."""
    return _query(
        snapshot,
        f"""
        select
            f.municipality_id, f.month_end, f.threshold, f.supplier_key, f.supplier_name,
            f.category_id, coalesce(c.category_name, f.category_id) as category_name,
            f.trailing_12m_spend, f.has_agreement_for_category,
            {is_private_person_sql("f.supplier_key")} as is_private_person
        from marts.threshold_flags as f
        left join marts.dim_categories as c using (category_id)
        where (? = 'ALL' or f.municipality_id = ?) and extract(year from f.month_end) = ?
        order by f.month_end desc, f.threshold desc, f.trailing_12m_spend desc,
            f.municipality_id, f.supplier_key, f.category_id
        """,
        [member, member, year],
    )


def off_agreement_purchases(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """Purchases outside agreements in `year`, largest first, with the agreements that
    should have been used (marts.off_agreement_purchases)."""
    columns = ", ".join(FOLLOWUP_COLUMNS["marts.off_agreement_purchases"])
    return _query(
        snapshot,
        f"""
        select {columns}, {is_private_person_sql()} as is_private_person
        from marts.off_agreement_purchases
        where {_MEMBER_FILTER} and year = ?
        order by off_agreement_spend desc, municipality_id, supplier_name, supplier_key,
            category_id, department
        """,
        [member, member, year],
    )


def expiring_agreements(snapshot: Snapshot, member: str) -> pd.DataFrame:
    """Agreements whose valid_to is within 6 months of the as-of date, soonest first, at
    the row of the as-of date's year (the one holding the trailing 12 months) for the
    member or 'ALL' (marts.agreement_followup). Not filtered by year: the expiry is
    measured from the as-of date."""
    return _query(
        snapshot,
        """
        select
            agreement_id, agreement_name, scope, valid_from, valid_to, as_of_date,
            days_to_expiry, trailing_12m_covered_spend, trailing_12m_on_agreement_spend,
            estimated_annual_volume,
        from marts.agreement_followup
        where municipality_id = ?
            and is_expiring_within_6_months
            and year = extract(year from as_of_date)
        order by valid_to, agreement_id
        """,
        [member],
    )


def agreement_as_of_date(snapshot: Snapshot) -> Any:
    """The date marts.agreement_followup measures expiry from (None when it is empty)."""
    frame = _query(snapshot, "select max(as_of_date) as as_of_date from marts.agreement_followup")
    return frame["as_of_date"].iloc[0]


def price_deviations(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """Invoice lines of `year` priced outside the tolerance (marts.price_deviations):
    those above the agreed price first, the most paid above it first (lines without a
    quantity, so without an excess, after them), then those below it."""
    columns = ", ".join(FOLLOWUP_COLUMNS["marts.price_deviations"])
    return _query(
        snapshot,
        f"""
        select {columns}, {is_private_person_sql()} as is_private_person
        from marts.price_deviations
        where {_MEMBER_FILTER} and extract(year from invoice_date) = ?
        order by direction = 'above' desc, excess_amount desc nulls last,
            abs(deviation) desc, invoice_date desc,
            municipality_id, invoice_id, line_no
        """,
        [member, member, year],
    )


def possible_duplicate_invoices(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """Pairs of invoices that may be paid twice whose first invoice is dated in `year`,
    the largest amounts first (marts.possible_duplicate_invoices)."""
    columns = ", ".join(FOLLOWUP_COLUMNS["marts.possible_duplicate_invoices"])
    return _query(
        snapshot,
        f"""
        select {columns}, {is_private_person_sql()} as is_private_person
        from marts.possible_duplicate_invoices
        where {_MEMBER_FILTER} and extract(year from first_invoice_date) = ?
        order by greatest(first_amount, second_amount) desc, second_invoice_date desc,
            municipality_id, supplier_key, first_invoice_id, second_invoice_id
        """,
        [member, member, year],
    )


def possible_duplicate_payees(snapshot: Snapshot, member: str, year: int) -> pd.DataFrame:
    """Payees of `year` not paired for duplicate invoices, with the reason, the largest
    amounts first (marts.possible_duplicate_payees)."""
    columns = ", ".join(FOLLOWUP_COLUMNS["marts.possible_duplicate_payees"])
    return _query(
        snapshot,
        f"""
        select {columns}, {is_private_person_sql()} as is_private_person
        from marts.possible_duplicate_payees
        where {_MEMBER_FILTER} and year = ?
        order by amount desc, municipality_id, supplier_key
        """,
        [member, member, year],
    )


def delivery_status(snapshot: Snapshot, today: Any = None) -> pd.DataFrame:
    """Per member: its last accepted delivery, the period that delivery declared, the day
    the next one is due under the spend contract's SLA, whether it is overdue (decided by
    pipelines.freshness, as Dagster and `samkjop status` decide it) and its deliveries
    rejected whole. The texts that come from a delivery (its file's name, declared period,
    the loader's message, which may quote a delivered value) pass through
    pipelines.orgno.mask_personal_id_numbers: a personal identity number is never shown."""
    from pipelines.freshness import ACCEPTED_STATUSES, judge, last_accepted_deliveries
    from pipelines.orgno import mask_personal_id_numbers

    def masked(value: Any) -> Any:
        return value if value is None or pd.isna(value) else mask_personal_id_numbers(str(value))

    deliveries = _query(
        snapshot,
        """
        select municipality_id, source_file, status, delivery_period, loaded_at, message
        from marts.delivery_reconciliation
        order by municipality_id, loaded_at
        """,
    )
    listed = members(snapshot)
    judged = judge(
        list(zip(listed["municipality_id"], listed["municipality_name"], strict=True)),
        last_accepted_deliveries(snapshot.path),
        today,
    )
    rows = []
    for member in judged:
        own = deliveries[deliveries["municipality_id"] == member.member_id]
        accepted = own[own["status"].isin(ACCEPTED_STATUSES)]
        rejected = own[own["status"] == "rejected"]
        last = accepted.iloc[-1] if not accepted.empty else None
        rows.append(
            {
                "municipality_id": member.member_id,
                "municipality_name": member.member_name,
                "last_accepted": member.last_accepted,
                "last_file": None if last is None else masked(Path(last["source_file"]).name),
                "last_period": None if last is None else masked(last["delivery_period"]),
                "due": member.due,
                "is_overdue": member.overdue,
                "reason": masked(member.reason),
                "rejected_deliveries": len(rejected),
                "last_rejection": None if rejected.empty else masked(rejected.iloc[-1]["message"]),
            }
        )
    return pd.DataFrame(rows)


# --- Council pages: compare, eHandel, categories, member, suppliers, data status ----------


def compare_members(snapshot: Snapshot, year: int) -> pd.DataFrame:
    """Per member and 'ALL' in `year` and the year before: the KPIs (municipality_kpis)
    and the amounts per inhabitant (per_capita; on-agreement spend, all and on shared
    agreements, over per_capita's population, 'ALL' over its members' summed one)."""
    return _query(
        snapshot,
        """
        select
            k.municipality_id, k.year, k.total_spend, k.influenceable_spend,
            k.on_agreement_spend, k.shared_on_agreement_spend, k.off_agreement_spend,
            k.coverage, k.loyalty,
            k.shared_coverage, k.shared_loyalty,
            p.population,
            p.total_spend_per_inhabitant, p.influenceable_spend_per_inhabitant,
            p.off_agreement_spend_per_inhabitant,
            k.on_agreement_spend / nullif(p.population, 0) as on_agreement_spend_per_inhabitant,
            k.shared_on_agreement_spend / nullif(p.population, 0)
                as shared_on_agreement_spend_per_inhabitant,
        from marts.municipality_kpis as k
        left join marts.per_capita as p using (municipality_id, year)
        where k.year in (?, ?)
        order by k.municipality_id, k.year
        """,
        [year, year - 1],
    )


def ehandel_by_member(snapshot: Snapshot) -> pd.DataFrame:
    """Every year's eHandel figures per member and 'ALL' (marts.municipality_kpis)."""
    return _query(
        snapshot,
        """
        select municipality_id, year, influenceable_spend, on_agreement_spend,
            ehandel_influenceable_spend, ehandel_on_agreement_spend,
            ehandel_share_of_influenceable, ehandel_share_of_on_agreement
        from marts.municipality_kpis
        order by year, municipality_id
        """,
    )


def category_figures(
    snapshot: Snapshot, year: int, municipality_id: str | None = None
) -> pd.DataFrame:
    """Per category (names, not ids) and member (and 'ALL') in `year`: spend, coverage,
    loyalty and eHandel (marts.category_kpis); one member's when `municipality_id`."""
    return _query(
        snapshot,
        """
        select
            municipality_id, category_id,
            coalesce(category_name, category_id) as category_name,
            influenceable_spend, covered_spend, on_agreement_spend, off_agreement_spend,
            coverage, loyalty, ehandel_influenceable_spend, ehandel_on_agreement_spend,
            ehandel_share_of_influenceable, ehandel_share_of_on_agreement
        from marts.category_kpis
        where year = ? and (? is null or municipality_id = ?)
        order by influenceable_spend desc, category_name
        """,
        [year, municipality_id, municipality_id],
    )


def categories_without_agreement(snapshot: Snapshot, year: int, limit: int = 15) -> pd.DataFrame:
    """The categories no agreement covered for any member in `year` (the cooperation's
    covered spend is 0), the most influenceable spend first: candidates for new shared
    agreements. 'unclassified' is not a category to tender."""
    return _query(
        snapshot,
        """
        select
            c.category_id, coalesce(c.category_name, c.category_id) as category_name,
            c.influenceable_spend,
            (select count(*) from marts.category_kpis as m
             where m.year = c.year and m.category_id = c.category_id
                and m.municipality_id <> 'ALL' and m.influenceable_spend > 0) as member_count
        from marts.category_kpis as c
        where c.year = ? and c.municipality_id = 'ALL' and c.covered_spend = 0
            and c.category_id <> 'unclassified' and c.influenceable_spend > 0
        order by c.influenceable_spend desc, category_name
        limit ?
        """,
        [year, limit],
    )


def member_quarters(snapshot: Snapshot, municipality_id: str) -> pd.DataFrame:
    """One member's (or 'ALL''s) quarterly coverage and loyalty (marts.kpis_by_period)."""
    return _query(
        snapshot,
        """
        select municipality_id, municipality_name, year, quarter, period_start,
            coverage, loyalty
        from marts.kpis_by_period
        where period_type = 'quarter' and municipality_id = ?
        order by period_start
        """,
        [municipality_id],
    )


@dataclass(frozen=True)
class ViewQuery:
    """The SQL of a council view: the table a page shows and its download writes
    (pipelines.export.COUNCIL_VIEWS), one builder for both. `sql` has no ORDER BY: the page
    reads it in `order` (ordered()), the export in `order` and then every other column."""

    sql: str
    params: tuple[Any, ...]
    order: tuple[str, ...]  # ORDER BY terms, e.g. ("influenceable_spend desc", "supplier_key")

    def ordered(self, limit: int | None = None) -> tuple[str, tuple[Any, ...]]:
        """The page's query: the view in its order, at most `limit` rows."""
        sql = f"{self.sql}\norder by {', '.join(self.order)}"
        if limit is None:
            return sql, self.params
        return f"{sql}\nlimit ?", (*self.params, limit)


def _read_view(snapshot: Snapshot, view: ViewQuery, limit: int | None = None) -> pd.DataFrame:
    sql, params = view.ordered(limit)
    return _query(snapshot, sql, params)


def masked(column: str) -> str:
    """`column`, a text as delivered (a supplier's name), with any personal identity number
    in it masked (pipelines.orgno.mask_personal_id_numbers, registered in every query's
    connection and in the export's). Apply it to the rows shown, not to every line."""
    return f"{MASK_FUNCTION}({column})"


def _private_name(name_column: str) -> str:
    """A grouped row's name: the `private_label` parameter for the private persons' row,
    else the name with personal identity numbers masked."""
    return f"case when supplier_key = '{PRIVATE_KEY}' then ? else {masked(name_column)} end"


def member_suppliers_view(
    municipality_id: str,
    year: int,
    category_id: str | None = None,
    private_label: str | None = None,
) -> ViewQuery:
    """A member's (or every member's for 'ALL') suppliers in `year` by influenceable
    spend, with the part on agreement and off agreement (covered, not on agreement),
    optionally in one category (marts.fct_spend_lines). Private persons are one row,
    supplier_key PRIVATE_KEY, named `private_label` (NULL when not given)."""
    return ViewQuery(
        f"""
        with grouped as (
            select
                {shown_key_sql()} as supplier_key,
                min({shown_sql("supplier_name")}) as supplier_name,
                sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
                sum(case when is_covered and not is_on_agreement then amount else 0 end)
                    as off_agreement_spend,
                sum(case when is_covered then amount else 0 end) as covered_spend,
                sum(amount) as influenceable_spend,
            from marts.fct_spend_lines
            where is_influenceable and year = ?
                and (? = 'ALL' or municipality_id = ?)
                and (? is null or category_id = ?)
            group by all
        )
        select
            supplier_key, {_private_name("supplier_name")} as supplier_name,
            on_agreement_spend, off_agreement_spend, covered_spend, influenceable_spend
        from grouped
        """,
        (
            year,
            municipality_id,
            municipality_id,
            category_id,
            category_id,
            private_label,
        ),
        ("influenceable_spend desc", "supplier_name", "supplier_key"),
    )


def member_suppliers(
    snapshot: Snapshot,
    municipality_id: str,
    year: int,
    category_id: str | None = None,
    limit: int | None = 15,
    private_label: str | None = None,
) -> pd.DataFrame:
    """member_suppliers_view, at most `limit` rows (None: every row)."""
    view = member_suppliers_view(municipality_id, year, category_id, private_label)
    return _read_view(snapshot, view, limit)


def member_crossings_view(
    municipality_id: str, year: int, private_label: str | None = None
) -> ViewQuery:
    """Threshold crossings of a member (every member for 'ALL') in `year`, with category
    names; a private person's supplier_name is `private_label` (marts.threshold_flags)."""
    return ViewQuery(
        f"""
        select
            f.municipality_id, f.month_end, f.threshold,
            case when {is_private_person_sql("f.supplier_key")} then ?
                else {masked("f.supplier_name")} end as supplier_name,
            {is_private_person_sql("f.supplier_key")} as is_private_person,
            coalesce(c.category_name, f.category_id) as category_name,
            f.trailing_12m_spend, f.has_agreement_for_category
        from marts.threshold_flags as f
        left join marts.dim_categories as c using (category_id)
        where (? = 'ALL' or f.municipality_id = ?) and extract(year from f.month_end) = ?
        """,
        (private_label, municipality_id, municipality_id, year),
        ("month_end desc", "threshold desc", "trailing_12m_spend desc"),
    )


def member_crossings(
    snapshot: Snapshot, municipality_id: str, year: int, private_label: str | None = None
) -> pd.DataFrame:
    """member_crossings_view, every row."""
    return _read_view(snapshot, member_crossings_view(municipality_id, year, private_label))


def search_suppliers_view(text: str, year: int) -> ViewQuery:
    """Suppliers of `year` whose name (as shown: personal identity numbers masked, so a
    search never finds one) or organisation number contains `text` (case ignored; ''
    every supplier), the most spend first; never a private person (marts.suppliers)."""
    return ViewQuery(
        f"""
        select supplier_key, supplier_org_no, {masked("supplier_name")} as supplier_name,
            total_spend, influenceable_spend, on_agreement_spend, off_agreement_spend,
            on_agreement_share,
            holds_agreement, agreement_count, member_count
        from marts.suppliers
        where year = ? and not {is_private_person_sql()}
            and (? = '' or lower({masked("supplier_name")}) like '%' || lower(?) || '%'
                 or supplier_org_no like '%' || ? || '%')
        """,
        (year, text, text, text),
        ("total_spend desc", "supplier_name", "supplier_key"),
    )


def search_suppliers(snapshot: Snapshot, text: str, year: int, limit: int = 50) -> pd.DataFrame:
    """search_suppliers_view, at most `limit` rows."""
    return _read_view(snapshot, search_suppliers_view(text, year), limit)


def supplier_by_member_view(supplier_key: str, year: int) -> ViewQuery:
    """One supplier's spend per member in `year`: total, influenceable, covered, on and
    off agreement, and loyalty: on agreement over covered (marts.fct_spend_lines); nothing for a
    private person."""
    return ViewQuery(
        f"""
        with per_member as (
            select
                municipality_id,
                sum(amount) as total_spend,
                sum(case when is_influenceable then amount else 0 end) as influenceable_spend,
                sum(case when is_influenceable and is_covered then amount else 0 end)
                    as covered_spend,
                sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
                sum(case when is_influenceable and is_covered and not is_on_agreement
                    then amount else 0 end) as off_agreement_spend,
            from marts.fct_spend_lines
            where supplier_key = ? and year = ? and not {is_private_person_sql()}
            group by municipality_id
        )
        select
            p.municipality_id, m.municipality_name, p.total_spend, p.influenceable_spend,
            p.covered_spend, p.on_agreement_spend, p.off_agreement_spend,
            p.on_agreement_spend / nullif(p.covered_spend, 0) as loyalty
        from per_member as p
        left join marts.dim_municipalities as m using (municipality_id)
        """,
        (supplier_key, year),
        ("total_spend desc", "municipality_id"),
    )


def supplier_by_member(snapshot: Snapshot, supplier_key: str, year: int) -> pd.DataFrame:
    """supplier_by_member_view, every row."""
    return _read_view(snapshot, supplier_by_member_view(supplier_key, year))


def supplier_agreements(snapshot: Snapshot, supplier_org_no: str) -> pd.DataFrame:
    """The agreements naming the supplier's organisation number (marts.dim_agreements)."""
    columns = set(
        _query(
            snapshot,
            "select column_name from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_agreements'",
        )["column_name"]
    )
    if not {"agreement_id", "supplier_org_nos"} <= columns:
        return pd.DataFrame(columns=["agreement_id", "agreement_name", "valid_from", "valid_to"])
    return _query(
        snapshot,
        """
        select agreement_id, agreement_name, scope, valid_from, valid_to
        from marts.dim_agreements
        where list_contains(string_split(replace(supplier_org_nos, ' ', ''), ','), ?)
        order by valid_to desc, agreement_id
        """,
        [supplier_org_no],
    )


def data_status(snapshot: Snapshot, year: int) -> pd.DataFrame:
    """Per member: months with spend in `year`, its first and last month and whether the
    year is complete (data_completeness); rows rejected (rejected_rows); spend on account
    codes without a known KOSTRA art in `year` (unmapped_codes)."""
    return _query(
        snapshot,
        """
        with rejected as (
            select municipality_id, count(*) as rejected_rows
            from marts.rejected_rows group by municipality_id
        ),
        unmapped as (
            select municipality_id, count(*) as unmapped_codes, sum(amount) as unmapped_amount,
                sum(share_of_member_spend) as unmapped_share
            from marts.unmapped_codes where year = ? group by municipality_id
        )
        select
            m.municipality_id, m.municipality_name,
            d.months_with_spend, d.first_month, d.last_month, d.is_complete_year,
            coalesce(r.rejected_rows, 0) as rejected_rows,
            coalesce(u.unmapped_codes, 0) as unmapped_codes,
            coalesce(u.unmapped_amount, 0) as unmapped_amount,
            u.unmapped_share
        from marts.dim_municipalities as m
        left join marts.data_completeness as d
            on d.municipality_id = m.municipality_id and d.year = ?
        left join rejected as r on r.municipality_id = m.municipality_id
        left join unmapped as u on u.municipality_id = m.municipality_id
        order by m.is_host desc, m.municipality_name
        """,
        [year, year],
    )


def has_tables(snapshot: Snapshot, *tables: str) -> bool:
    """Whether the snapshot has every one of `tables` (marts.x)."""
    return not missing_columns(snapshot, {table: () for table in tables})
