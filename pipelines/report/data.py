"""What the annual report shows, read from the published snapshot (read-only).

Every figure comes from a mart as it is; nothing is recomputed here except sums of a
mart's rows (the off-agreement spend of the payees shown as private persons). The marts
read: cooperation (targets), dim_municipalities, dim_categories, municipality_kpis,
kpis_by_period (trend), per_capita, category_kpis, off_agreement_suppliers,
threshold_flags, agreement_followup, data_completeness, private_payees and snapshot_info.

Private persons (issue 12 point 6) are never named: the rule is the council pages' one,
dashboards.privacy.is_private_person_sql (a payee identified neither by a validated
organisation number nor through the supplier register, or one the register marks
is_person, listed in marts.private_payees). They are summed into one row "private
persons" with their count, and unnamed among the threshold crossings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dashboards.privacy import is_private_person_sql
from pipelines.report import ReportError

ALL = "ALL"  # municipality_id of the cooperation as a whole in the marts
TOP_CATEGORIES = 10
TOP_SUPPLIERS = 12
TOP_CROSSINGS = 15
REQUIRED_MARTS = (
    "cooperation",
    "dim_municipalities",
    "municipality_kpis",
    "kpis_by_period",
    "per_capita",
    "category_kpis",
    "off_agreement_suppliers",
    "private_payees",
    "dim_categories",
    "threshold_flags",
    "agreement_followup",
    "data_completeness",
    "snapshot_info",
)


@dataclass
class ReportData:
    """Everything one annual report shows, as DataFrames straight from the marts."""

    year: int
    cooperation: dict[str, Any]
    published_at: Any
    members: pd.DataFrame  # municipality_id, municipality_name, population, is_host
    kpis: pd.DataFrame  # members then ALL, with previous_coverage / previous_loyalty
    trend: pd.DataFrame  # quarters up to the year's end, members and ALL
    per_capita: pd.DataFrame  # members then ALL
    categories: pd.DataFrame  # the largest off-agreement categories of the cooperation
    suppliers: pd.DataFrame  # the largest off-agreement payees, private persons as one row
    threshold_counts: pd.DataFrame  # per threshold: crossings and those without agreement
    crossings: pd.DataFrame  # the largest crossings of the year, private persons unnamed
    crossing_count: int
    expiring: pd.DataFrame  # agreements expiring within 6 months of the as-of date
    as_of_date: Any
    completeness: pd.DataFrame  # members then ALL, for the year
    previous_year: int | None  # the year compared with, when the snapshot has it
    previous_is_complete: bool  # False when the year compared with is incomplete
    years: list[int] = field(default_factory=list)

    @property
    def cooperation_completeness(self) -> dict[str, Any]:
        rows = self.completeness[self.completeness["municipality_id"] == ALL]
        return rows.iloc[0].to_dict() if not rows.empty else {}

    @property
    def partial_members(self) -> set[str]:
        """The members (and ALL) whose year is incomplete, and the members without spend
        in it at all."""
        frame = self.completeness
        incomplete = set(frame.loc[~frame["is_complete_year"].astype(bool), "municipality_id"])
        without = set(self.members["municipality_id"]) - set(frame["municipality_id"])
        return incomplete | without

    @property
    def is_complete_year(self) -> bool:
        return bool(self.cooperation_completeness.get("is_complete_year", False))


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    return con.execute(sql, list(params)).df()


def load_report_data(snapshot: Path, year: int) -> ReportData:
    """Read the report of `year` from the snapshot; ReportError when there is no snapshot,
    it lacks a mart the report needs, or it has no spend in `year`."""
    if not snapshot.is_file():
        raise ReportError(
            f"no published snapshot at {snapshot}: run `samkjop run --config ...` first"
        )
    try:
        con = duckdb.connect(str(snapshot), read_only=True)
    except duckdb.Error as error:
        raise ReportError(f"the snapshot {snapshot} cannot be opened: {error}") from error
    try:
        return _load(con, snapshot, year)
    finally:
        con.close()


def _load(con: duckdb.DuckDBPyConnection, snapshot: Path, year: int) -> ReportData:
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    missing = [mart for mart in REQUIRED_MARTS if mart not in present]
    if missing:
        raise ReportError(
            f"the snapshot {snapshot} lacks {', '.join('marts.' + m for m in missing)}: it was "
            "published by an older version; run `samkjop run --full --config ...` again"
        )
    years = [
        int(y)
        for (y,) in con.execute(
            "select distinct year from marts.municipality_kpis "
            "where municipality_id = ? and year is not null order by year",
            [ALL],
        ).fetchall()
    ]
    if year not in years:
        have = ", ".join(str(y) for y in years) or "none"
        raise ReportError(
            f"the snapshot {snapshot} has no spend in {year} (years with spend: {have})"
        )
    previous_year = year - 1 if year - 1 in years else None
    previous_is_complete = previous_year is None or bool(
        con.execute(
            "select coalesce(bool_and(is_complete_year), false) from marts.data_completeness "
            "where municipality_id = ? and year = ?",
            [ALL, previous_year],
        ).fetchone()[0]
    )
    cooperation = _frame(con, "select * from marts.cooperation limit 1").iloc[0].to_dict()
    published_at = con.execute("select max(published_at) from marts.snapshot_info").fetchone()[0]
    threshold_counts, crossings, crossing_count = _thresholds(con, year)
    expiring, as_of_date = _expiring(con)
    return ReportData(
        year=year,
        cooperation=cooperation,
        published_at=published_at,
        members=_frame(
            con,
            "select municipality_id, municipality_name, population, is_host "
            "from marts.dim_municipalities order by is_host desc, municipality_name",
        ),
        kpis=_kpis(con, year),
        trend=_frame(
            con,
            """
            select municipality_id, municipality_name, period_start, year, quarter,
                coverage, loyalty, influenceable_spend, off_agreement_spend
            from marts.kpis_by_period
            where period_type = 'quarter' and year <= ?
            order by period_start, municipality_id
            """,
            [year],
        ),
        per_capita=_frame(
            con,
            f"""
            select municipality_id, municipality_name, population, total_spend,
                influenceable_spend, off_agreement_spend, total_spend_per_inhabitant,
                influenceable_spend_per_inhabitant, off_agreement_spend_per_inhabitant
            from marts.per_capita
            where year = ?
            order by municipality_id = '{ALL}', off_agreement_spend_per_inhabitant desc,
                municipality_name
            """,
            [year],
        ),
        categories=_categories(con, year),
        suppliers=_suppliers(con, year),
        threshold_counts=threshold_counts,
        crossings=crossings,
        crossing_count=crossing_count,
        expiring=expiring,
        as_of_date=as_of_date,
        completeness=_frame(
            con,
            f"""
            select completeness.*, municipalities.municipality_name
            from marts.data_completeness as completeness
            left join marts.dim_municipalities as municipalities
                on completeness.municipality_id = municipalities.municipality_id
            where completeness.year = ?
            order by completeness.municipality_id = '{ALL}', municipalities.municipality_name
            """,
            [year],
        ),
        previous_year=previous_year,
        previous_is_complete=previous_is_complete,
        years=years,
    )


def _kpis(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """municipality_kpis of the year for every member (also one without spend) and ALL,
    with the previous year's coverage and loyalty."""
    return _frame(
        con,
        f"""
        with listed as (
            select municipality_id, municipality_name, is_host
            from marts.dim_municipalities
            union all
            select '{ALL}', cooperation_name, false from marts.cooperation
        )
        select
            listed.municipality_id,
            coalesce(this_year.municipality_name, listed.municipality_name)
                as municipality_name,
            listed.is_host,
            this_year.influenceable_spend,
            this_year.covered_spend,
            this_year.on_agreement_spend,
            this_year.off_agreement_spend,
            this_year.coverage,
            this_year.loyalty,
            this_year.shared_coverage,
            this_year.shared_loyalty,
            last_year.coverage as previous_coverage,
            last_year.loyalty as previous_loyalty
        from listed
        left join marts.municipality_kpis as this_year
            on listed.municipality_id = this_year.municipality_id and this_year.year = ?
        left join marts.municipality_kpis as last_year
            on listed.municipality_id = last_year.municipality_id and last_year.year = ?
        order by listed.municipality_id = '{ALL}', listed.is_host desc,
            listed.municipality_name
        """,
        [year, year - 1],
    )


def _categories(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """The cooperation's categories with the most off-agreement spend, with their share of
    all off-agreement spend and the member that spent most of it off agreement."""
    return _frame(
        con,
        f"""
        with cooperation as (
            select
                category_id, category_name, influenceable_spend, covered_spend,
                off_agreement_spend, coverage, loyalty,
                off_agreement_spend / nullif(sum(off_agreement_spend) over (), 0)
                    as share_of_off_agreement
            from marts.category_kpis
            where municipality_id = '{ALL}' and year = ?
        ),
        by_member as (
            select
                kpis.category_id,
                municipalities.municipality_name,
                kpis.off_agreement_spend,
                row_number() over (
                    partition by kpis.category_id
                    order by kpis.off_agreement_spend desc, municipalities.municipality_name
                ) as rank_in_category
            from marts.category_kpis as kpis
            inner join marts.dim_municipalities as municipalities
                on kpis.municipality_id = municipalities.municipality_id
            where kpis.year = ? and kpis.off_agreement_spend > 0
        )
        select
            cooperation.*,
            by_member.municipality_name as largest_member_name,
            by_member.off_agreement_spend as largest_member_off_agreement_spend
        from cooperation
        left join by_member
            on cooperation.category_id = by_member.category_id
            and by_member.rank_in_category = 1
        where cooperation.off_agreement_spend > 0
        order by cooperation.off_agreement_spend desc, cooperation.category_id
        limit {TOP_CATEGORIES}
        """,
        [year, year],
    )


def _suppliers(con: duckdb.DuckDBPyConnection, year: int) -> pd.DataFrame:
    """The cooperation's payees with the most off-agreement spend; the private persons
    (see the module's docstring) are one row, `is_private_persons`, with `payee_count`
    payees and no name, ranked by their sum like any other row and shown also when their
    sum is not among the largest (the reader sees how much goes to private persons)."""
    return _frame(
        con,
        f"""
        with payees as (
            select
                suppliers_off.supplier_key,
                suppliers_off.supplier_org_no,
                suppliers_off.supplier_name,
                suppliers_off.off_agreement_spend,
                suppliers_off.covered_spend,
                {is_private_person_sql("suppliers_off.supplier_key")} as is_private
            from marts.off_agreement_suppliers as suppliers_off
            where suppliers_off.municipality_id = '{ALL}' and suppliers_off.year = ?
        ),
        grouped as (
            select
                is_private as is_private_persons,
                case when is_private then null else supplier_key end as supplier_key,
                case when is_private then null else any_value(supplier_org_no) end
                    as supplier_org_no,
                case when is_private then null else any_value(supplier_name) end
                    as supplier_name,
                sum(off_agreement_spend) as off_agreement_spend,
                sum(covered_spend) as covered_spend,
                count(*) as payee_count
            from payees
            where off_agreement_spend > 0
            group by is_private, case when is_private then null else supplier_key end
        ),
        ranked as (
            select
                *,
                off_agreement_spend / nullif(
                    (select sum(off_agreement_spend) from payees), 0
                ) as share_of_off_agreement,
                row_number() over (
                    order by off_agreement_spend desc, supplier_name, supplier_key
                ) as rank_by_spend
            from grouped
        )
        select * exclude (rank_by_spend)
        from ranked
        where rank_by_spend <= {TOP_SUPPLIERS} or is_private_persons
        order by rank_by_spend
        """,
        [year],
    )


def _thresholds(
    con: duckdb.DuckDBPyConnection, year: int
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Crossings with a month end in `year` (marts.threshold_flags): per threshold, and the
    largest ones (private persons unnamed), and how many there are in all."""
    counts = _frame(
        con,
        """
        with thresholds as (select distinct threshold from marts.threshold_flags),
        crossings as (
            select threshold, has_agreement_for_category
            from marts.threshold_flags
            where extract(year from month_end) = ?
        )
        select
            thresholds.threshold,
            count(crossings.threshold) as crossing_count,
            count(crossings.threshold) filter (
                where not crossings.has_agreement_for_category
            ) as without_agreement_count
        from thresholds
        left join crossings on thresholds.threshold = crossings.threshold
        group by thresholds.threshold
        order by thresholds.threshold
        """,
        [year],
    )
    private = is_private_person_sql("flags.supplier_key")
    crossings = _frame(
        con,
        f"""
        select
            flags.municipality_id,
            municipalities.municipality_name,
            flags.month_end,
            flags.threshold,
            case when {private} then null else flags.supplier_name end as supplier_name,
            {private} as is_private_person,
            flags.category_id,
            coalesce(categories.category_name, flags.category_id) as category_name,
            flags.trailing_12m_spend,
            flags.has_agreement_for_category
        from marts.threshold_flags as flags
        left join marts.dim_municipalities as municipalities
            on flags.municipality_id = municipalities.municipality_id
        left join marts.dim_categories as categories
            on flags.category_id = categories.category_id
        where extract(year from flags.month_end) = ?
        order by flags.threshold desc, flags.trailing_12m_spend desc, flags.month_end,
            flags.municipality_id, flags.supplier_key, flags.category_id
        limit {TOP_CROSSINGS}
        """,
        [year],
    )
    total = int(counts["crossing_count"].sum()) if not counts.empty else 0
    return counts, crossings, total


def _expiring(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, Any]:
    """Agreements expiring within 6 months of the mart's as-of date, soonest first, with the
    spend in their categories over the trailing 12 months (the spend at stake) at the
    cooperation's row of the as-of date's year (marts.agreement_followup)."""
    as_of = con.execute("select max(as_of_date) from marts.agreement_followup").fetchone()[0]
    frame = _frame(
        con,
        f"""
        select
            agreement_id, agreement_name, scope, valid_from, valid_to, days_to_expiry,
            trailing_12m_covered_spend, trailing_12m_on_agreement_spend,
            estimated_annual_volume
        from marts.agreement_followup
        where municipality_id = '{ALL}'
            and is_expiring_within_6_months
            and year = extract(year from as_of_date)
        order by valid_to, trailing_12m_covered_spend desc nulls last, agreement_id
        """,
    )
    return frame, as_of
