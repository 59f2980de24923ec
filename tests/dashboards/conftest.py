"""A small published snapshot for the dashboard tests, built with plain SQL.

Three members (Stjørdal is host) plus 'ALL', years 2023 and 2024, quarters, and
undefined ratios: Tydal has no covered spend in 2023 (loyalty NULL) and no
shared agreement existed in 2023 (shared loyalty NULL, also for 'ALL').
Quarterly amounts are the year's amounts split 10/20/30/40 %; year rows and
'ALL' rows are sums, and every ratio is computed from the sums (NULL when the
denominator is 0), as the marts do.

Also usable outside pytest, e.g. for the screenshot script:
    python tests/dashboards/conftest.py /tmp/snapshot.duckdb
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `dashboards` importable without installing the project
    sys.path.insert(0, str(REPO_ROOT))

RATIOS = """
    covered_spend / nullif(influenceable_spend, 0) as coverage,
    on_agreement_spend / nullif(covered_spend, 0) as loyalty,
    shared_covered_spend / nullif(influenceable_spend, 0) as shared_coverage,
    shared_on_agreement_spend / nullif(shared_covered_spend, 0) as shared_loyalty,
    supplier_loyalty_spend / nullif(influenceable_spend, 0) as supplier_loyalty,
    -- a column the dashboard does not read: marts may grow
    covered_spend / nullif(influenceable_spend, 0) / 2 as national_coverage
"""

SUMS = """
    sum(total_spend) as total_spend,
    sum(influenceable_spend) as influenceable_spend,
    sum(covered_spend) as covered_spend,
    sum(on_agreement_spend) as on_agreement_spend,
    sum(covered_spend - on_agreement_spend) as off_agreement_spend,
    sum(shared_covered_spend) as shared_covered_spend,
    sum(shared_on_agreement_spend) as shared_on_agreement_spend,
    sum(unclassified_spend) as unclassified_spend,
    sum(supplier_loyalty_spend) as supplier_loyalty_spend
"""

SNAPSHOT_SQL = f"""
create schema marts;

create table marts.snapshot_info (published_at timestamp, warehouse varchar);
insert into marts.snapshot_info values (timestamp '2025-01-31 14:05:00', 'warehouse.duckdb');

create table marts.cooperation (
    cooperation_name varchar, country varchar, currency varchar,
    host_municipality_id varchar, loyalty_target decimal(9, 6), coverage_target decimal(9, 6)
);
insert into marts.cooperation values ('Testregionen Innkjøp', 'NO', 'NOK', '5035', 0.8, null);

create table marts.dim_municipalities (
    municipality_id varchar, municipality_name varchar, population integer, is_host boolean
);
insert into marts.dim_municipalities values
    ('5032', 'Selbu', 4096, false),
    ('5033', 'Tydal', 807, false),
    ('5035', 'Stjørdal', 24050, true);

-- the year's amounts per member; quarters get 10/20/30/40 % of them
create temporary table yearly (
    municipality_id varchar, year integer,
    total_spend decimal(18, 4), influenceable_spend decimal(18, 4),
    covered_spend decimal(18, 4), on_agreement_spend decimal(18, 4),
    shared_covered_spend decimal(18, 4), shared_on_agreement_spend decimal(18, 4),
    unclassified_spend decimal(18, 4), supplier_loyalty_spend decimal(18, 4)
);
insert into yearly values
    ('5035', 2023, 1200000, 900000, 600000, 470000, 0, 0, 40000, 500000),
    ('5032', 2023, 300000, 250000, 100000, 90000, 0, 0, 10000, 90000),
    ('5033', 2023, 100000, 80000, 0, 0, 0, 0, 5000, 0),
    ('5035', 2024, 1500000, 1000000, 800000, 640000, 500000, 450000, 50000, 700000),
    ('5032', 2024, 400000, 300000, 200000, 120000, 100000, 60000, 20000, 150000),
    ('5033', 2024, 120000, 100000, 50000, 50000, 0, 0, 10000, 50000);

create temporary table quarterly as
select
    y.municipality_id,
    y.year,
    q.quarter,
    make_date(y.year, 3 * q.quarter - 2, 1) as period_start,
    y.total_spend * q.share as total_spend,
    y.influenceable_spend * q.share as influenceable_spend,
    y.covered_spend * q.share as covered_spend,
    y.on_agreement_spend * q.share as on_agreement_spend,
    y.shared_covered_spend * q.share as shared_covered_spend,
    y.shared_on_agreement_spend * q.share as shared_on_agreement_spend,
    y.unclassified_spend * q.share as unclassified_spend,
    y.supplier_loyalty_spend * q.share as supplier_loyalty_spend,
from yearly as y
cross join (values (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)) as q (quarter, share);

create temporary table quarterly_all as
select municipality_id, year, quarter, period_start, {SUMS}
from quarterly group by all
union all
select 'ALL', year, quarter, period_start, {SUMS}
from quarterly group by all;

create table marts.kpis_by_period as
with
periods as (
    select 'quarter' as period_type, period_start, year, quarter, * exclude (
        period_start, year, quarter
    )
    from quarterly_all
    union all by name
    select 'year' as period_type, make_date(year, 1, 1) as period_start, year,
        null::integer as quarter, municipality_id, {SUMS}
    from quarterly_all group by all
),
ratios as (
    select p.*, {RATIOS}
    from periods as p
)
select
    r.municipality_id,
    coalesce(m.municipality_name, 'Testregionen Innkjøp') as municipality_name,
    r.period_type, r.period_start, r.year, r.quarter, null::integer as month,
    r.total_spend, r.influenceable_spend, r.covered_spend, r.on_agreement_spend,
    r.off_agreement_spend, r.coverage, r.loyalty, r.shared_covered_spend,
    r.shared_on_agreement_spend, r.shared_coverage, r.shared_loyalty,
    r.unclassified_spend, r.supplier_loyalty, r.national_coverage
from ratios as r
left join marts.dim_municipalities as m using (municipality_id);

create table marts.municipality_kpis as
select
    municipality_id, municipality_name, year,
    total_spend, influenceable_spend, covered_spend, on_agreement_spend, off_agreement_spend,
    coverage, loyalty, shared_covered_spend, shared_on_agreement_spend,
    shared_coverage, shared_loyalty, unclassified_spend, supplier_loyalty, national_coverage
from marts.kpis_by_period
where period_type = 'year';

-- 18 suppliers for Stjørdal, a few for the others; some shared between members
create temporary table supplier_rows as
select
    '5035' as municipality_id, 2024 as year,
    'org:9' || lpad(i::varchar, 8, '0') as supplier_key,
    '9' || lpad(i::varchar, 8, '0') as supplier_org_no,
    'Leverandør ' || lpad(i::varchar, 2, '0') || ' AS' as supplier_name,
    (1000 * (19 - i))::decimal(18, 4) as off_agreement_spend,
    (3000 * (19 - i))::decimal(18, 4) as covered_spend,
    (2 * i)::bigint as line_count,
from range(1, 19) as t (i)
union all
select * from (values
    ('5032', 2024, 'org:900000001', '900000001', 'Leverandør 01 AS', 25000, 40000, 4),
    ('5032', 2024, 'name:kiosken', null, 'Kiosken på hjørnet', 12000, 12000, 7),
    ('5032', 2024, 'org:900000099', '900000099', 'Kreditnota AS', -500, 1000, 1),
    ('5035', 2023, 'org:900000003', '900000003', 'Leverandør 03 AS', 77000, 90000, 11),
    ('5035', 2023, 'org:900000004', '900000004', 'Leverandør 04 AS', 53000, 60000, 9),
    ('5032', 2023, 'org:900000005', '900000005', 'Leverandør 05 AS', 10000, 10000, 2),
    ('5033', 2024, 'org:900000098', '900000098', 'Kun på avtale AS', 0, 5000, 3)
) as v (municipality_id, year, supplier_key, supplier_org_no, supplier_name,
    off_agreement_spend, covered_spend, line_count);

create table marts.off_agreement_suppliers as
select
    municipality_id, year, supplier_key, supplier_org_no, supplier_name,
    off_agreement_spend::decimal(18, 4) as off_agreement_spend,
    covered_spend::decimal(18, 4) as covered_spend, line_count::bigint as line_count,
from supplier_rows
union all
select
    'ALL', year, supplier_key, any_value(supplier_org_no), any_value(supplier_name),
    sum(off_agreement_spend)::decimal(18, 4), sum(covered_spend)::decimal(18, 4),
    sum(line_count)::bigint,
from supplier_rows
group by year, supplier_key;
"""


def build_snapshot(path: Path) -> Path:
    """Write the sample snapshot to `path` (replacing it) and return the path."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(SNAPSHOT_SQL)
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def snapshot_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample snapshot, built once per test session (tests only read it)."""
    return build_snapshot(tmp_path_factory.mktemp("snapshot") / "snapshot.duckdb")


@pytest.fixture
def snapshot_path(snapshot_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample snapshot, published to the dashboard through SAMKJOP_SNAPSHOT."""
    monkeypatch.setenv("SAMKJOP_SNAPSHOT", str(snapshot_file))
    return snapshot_file


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "snapshot.duckdb")
    print(build_snapshot(target))
