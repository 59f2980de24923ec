"""A small published snapshot for the dashboard tests, built with plain SQL.

Three members (Stjørdal is host) plus 'ALL', years 2023 and 2024, quarters, and
undefined ratios: Tydal has no covered spend in 2023 (loyalty NULL) and no
shared agreement existed in 2023 (shared loyalty NULL, also for 'ALL').
Quarterly amounts are the year's amounts split 10/20/30/40 %; year rows and
'ALL' rows are sums, and every ratio is computed from the sums (NULL when the
denominator is 0), as the marts do.

FOLLOWUP_SQL adds the six marts of the follow-up page (threshold_flags,
off_agreement_purchases, agreement_followup, price_deviations,
possible_duplicate_invoices, possible_duplicate_payees) with the real column
names and types; its
comments give the figures the page tests expect.

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

FOLLOWUP_SQL = """
-- 2024, all members: 100 000 crossed 3 times (1 without an agreement), 1 300 000 once
-- (without), 2 300 000 never; latest first: Nov, Sep (Stjørdal), Jun (Selbu), Mar.
-- 2023: Selbu crosses 100 000 in Dec, Tydal all three thresholds in May.
create table marts.threshold_flags (
    municipality_id varchar, supplier_key varchar, category_id varchar, month_end date,
    threshold bigint, trailing_12m_spend decimal(18, 4), has_agreement_for_category boolean,
    supplier_name varchar
);
insert into marts.threshold_flags values
    ('5035', '911111111', 'OFFICE', date '2024-03-31', 100000, 104000, true, 'Kontor AS'),
    ('5035', 'name:rørlegger hansen', 'PLUMBING', date '2024-09-30', 100000, 150000, false,
        'Rørlegger Hansen'),
    ('5035', 'name:rørlegger hansen', 'PLUMBING', date '2024-11-30', 1300000, 1350000, false,
        'Rørlegger Hansen'),
    ('5032', '922222222', 'BUILD', date '2024-06-30', 100000, 120000, true, 'Bygg AS'),
    ('5032', '922222222', 'BUILD', date '2023-12-31', 100000, 101000, true, 'Bygg AS'),
    ('5033', '933333333', 'TRANSPORT', date '2023-05-31', 100000, 2400000, false, 'Transport AS'),
    ('5033', '933333333', 'TRANSPORT', date '2023-05-31', 1300000, 2400000, false, 'Transport AS'),
    ('5033', '933333333', 'TRANSPORT', date '2023-05-31', 2300000, 2400000, false, 'Transport AS');

-- 2024, all members: 85 800.25 off agreement with 3 suppliers, largest first
-- Kontorkjeden (Stjørdal) 56 000.25, Kontorkjeden (Selbu) 23 000, Kiosken 8 000, a net
-- credit note -1 200 last. Stjørdal alone: 64 000.25 with 2 suppliers. 2023: one row.
create table marts.off_agreement_purchases (
    municipality_id varchar, year integer, department varchar, supplier_key varchar,
    supplier_org_no varchar, supplier_name varchar, category_id varchar, category_name varchar,
    off_agreement_spend decimal(18, 4), line_count bigint, invoice_count bigint,
    first_invoice_date date, last_invoice_date date, agreement_count bigint,
    agreements_to_use varchar, agreement_suppliers varchar
);
insert into marts.off_agreement_purchases values
    ('5035', 2024, '1200', '944444444', '944444444', 'Kontorkjeden AS', 'OFFICE',
        'Kontorrekvisita', 56000.25, 12, 9, date '2024-02-01', date '2024-11-15', 1,
        'A-01: Kontorrekvisita', 'Kontor AS (911111111)'),
    ('5035', 2024, null, 'name:kiosken', null, 'Kiosken på hjørnet', 'FOOD', 'Mat og drikke',
        8000, 3, 3, date '2024-05-05', date '2024-06-01', 2, 'A-02: Matvarer; A-03: Kaffe',
        '966666666; Matgrossisten AS (955555555)'),
    ('5032', 2024, '3100', '944444444', '944444444', 'Kontorkjeden AS', 'OFFICE',
        'Kontorrekvisita', 23000, 4, 2, date '2024-03-01', date '2024-03-09', 1,
        'A-01: Kontorrekvisita', 'Kontor AS (911111111)'),
    ('5032', 2024, '3100', '977777777', '977777777', 'Kreditnota AS', 'OFFICE',
        'Kontorrekvisita', -1200, 1, 1, date '2024-08-01', date '2024-08-01', 1,
        'A-01: Kontorrekvisita', 'Kontor AS (911111111)'),
    ('5035', 2023, '1200', '944444444', '944444444', 'Kontorkjeden AS', 'OFFICE',
        'Kontorrekvisita', 41000, 7, 5, date '2023-04-01', date '2023-10-01', 1,
        'A-01: Kontorrekvisita', 'Kontor AS (911111111)');

-- as-of date 2024-12-20, horizon 2025-06-20. Expiring: A-02 (Stjørdal only, ends
-- 2024-12-31, 11 days) and A-01 (Stjørdal + Selbu, ends 2025-03-31, 101 days). Not:
-- A-03 (ends 2026) and A-04 (Tydal, ended 2024-11-30). Trailing 12 months on the 2024
-- rows only; 'ALL' rows are the sums of the members' rows. ALL A-01: 400 000 covered,
-- 330 000 on agreement, estimated annual volume 500 000.
create temporary table followup_agreements (
    agreement_id varchar, agreement_name varchar, scope varchar, valid_from date,
    valid_to date, estimated_annual_volume decimal(18, 4), provision_rate decimal(9, 6)
);
insert into followup_agreements values
    ('A-01', 'Kontorrekvisita', 'cooperation', date '2022-01-01', date '2025-03-31', 500000,
        0.02),
    ('A-02', 'Matvarer', 'local', date '2023-01-01', date '2024-12-31', null, null),
    ('A-03', 'Kaffe', 'cooperation', date '2024-01-01', date '2026-12-31', 90000, null),
    ('A-04', 'Renhold', 'national', date '2023-01-01', date '2024-11-30', null, null);

create temporary table followup_members (
    agreement_id varchar, municipality_id varchar, year integer,
    covered_spend decimal(18, 4), on_agreement_spend decimal(18, 4),
    trailing_12m_covered_spend decimal(18, 4), trailing_12m_on_agreement_spend decimal(18, 4)
);
insert into followup_members values
    ('A-01', '5035', 2023, 250000, 200000, null, null),
    ('A-01', '5032', 2023, 90000, 85000, null, null),
    ('A-01', '5035', 2024, 310000, 250000, 300000, 240000),
    ('A-01', '5032', 2024, 100000, 90000, 100000, 90000),
    ('A-02', '5035', 2023, 60000, 60000, null, null),
    ('A-02', '5035', 2024, 82000, 74000, 80000, 72000),
    ('A-03', '5035', 2024, 20000, 12000, 20000, 12000),
    ('A-03', '5032', 2024, 5000, 5000, 5000, 5000),
    ('A-03', '5033', 2024, 0, 0, 0, 0),
    ('A-04', '5033', 2023, 30000, 30000, null, null),
    ('A-04', '5033', 2024, 27000, 27000, 27000, 27000);

create table marts.agreement_followup as
with
followup_rows as (
    select * from followup_members
    union all
    select agreement_id, 'ALL', year, sum(covered_spend), sum(on_agreement_spend),
        sum(trailing_12m_covered_spend), sum(trailing_12m_on_agreement_spend)
    from followup_members
    group by agreement_id, year
)
select
    r.agreement_id, a.agreement_name, a.scope, r.municipality_id, r.year,
    a.valid_from, a.valid_to,
    r.covered_spend::decimal(18, 4) as covered_spend,
    r.on_agreement_spend::decimal(18, 4) as on_agreement_spend,
    (r.covered_spend - r.on_agreement_spend)::decimal(18, 4) as off_agreement_spend,
    (r.on_agreement_spend / nullif(r.covered_spend, 0))::double as loyalty,
    0::decimal(18, 4) as on_agreement_spend_also_on_other_agreements,
    case when r.municipality_id = 'ALL' then a.estimated_annual_volume end
        as estimated_annual_volume,
    case when r.municipality_id = 'ALL'
        then (r.on_agreement_spend / nullif(a.estimated_annual_volume, 0))::double
    end as utilisation,
    a.provision_rate,
    (a.provision_rate * r.on_agreement_spend)::decimal(18, 4) as provision_amount,
    date '2024-12-20' as as_of_date,
    (a.valid_to - date '2024-12-20')::integer as days_to_expiry,
    a.valid_to >= date '2024-12-20' and a.valid_to <= date '2025-06-20'
        as is_expiring_within_6_months,
    r.trailing_12m_covered_spend::decimal(18, 4) as trailing_12m_covered_spend,
    r.trailing_12m_on_agreement_spend::decimal(18, 4) as trailing_12m_on_agreement_spend
from followup_rows as r
inner join followup_agreements as a using (agreement_id);

-- 2024, all members: 3 lines above the agreed price, 85 paid above it (50 + 35; the
-- toner line has no quantity), 1 line below. Order: above first by excess (F-1001, S-77,
-- F-1002 without excess), then below (S-78). 2023: F-900.
create table marts.price_deviations (
    municipality_id varchar, invoice_id varchar, line_no varchar, source_file varchar,
    source_row bigint, invoice_date date, supplier_key varchar, supplier_name varchar,
    agreement_id varchar, item_id varchar, description varchar, quantity decimal(18, 4),
    currency varchar, invoiced_unit_price decimal(18, 6), price_list_currency varchar,
    agreed_unit_price decimal(18, 6), direction varchar, deviation decimal(18, 6),
    excess_amount decimal(18, 4), amount decimal(18, 4), category_id varchar,
    matching_price_count bigint, spend_line_id varchar
);
insert into marts.price_deviations values
    ('5035', 'F-1002', '2', 'stjordal_2024.csv', 15, date '2024-10-05', '911111111',
        'Kontor AS', 'A-01', 'X-200', 'Toner', null, 'NOK', 1200, 'NOK', 1000, 'above', 0.2,
        null, 1200, 'OFFICE', 1, 'L-2'),
    ('5032', 'S-78', '1', 'selbu.xml', 4, date '2024-04-12', '911111111', 'Kontor AS', 'A-01',
        'X-300', 'Penner', 100, 'NOK', 8, 'NOK', 10, 'below', -0.2, -200, 800, 'OFFICE', 1,
        'L-4'),
    ('5035', 'F-1001', '1', 'stjordal_2024.csv', 14, date '2024-10-02', '911111111',
        'Kontor AS', 'A-01', 'X-100', 'Kopipapir A4', 10, 'NOK', 55, 'NOK', 50, 'above', 0.1,
        50, 550, 'OFFICE', 1, 'L-1'),
    ('5032', 'S-77', '1', 'selbu.xml', 3, date '2024-04-11', '911111111', 'Kontor AS', 'A-01',
        'X-100', 'Kopipapir A4', 20, 'EUR', 4.5, 'NOK', 50, 'above', 0.035, 35, 1035, 'OFFICE',
        1, 'L-3'),
    ('5035', 'F-900', '1', 'stjordal_2023.csv', 2, date '2023-06-01', '911111111', 'Kontor AS',
        'A-01', 'X-100', 'Kopipapir A4', 10, 'NOK', 52.5, 'NOK', 50, 'above', 0.05, 25, 525,
        'OFFICE', 1, 'L-0');

-- 2024 (first invoice's date), all members: B-1/B-2 (Selbu, 45 000, the second in 2025),
-- F-2001 twice (Stjørdal, 12 500), K-17/K-18 (Stjørdal, 799); 1 pair 'same invoice id',
-- 2 'same amount'. 2023: T-5 (Tydal).
create table marts.possible_duplicate_invoices (
    municipality_id varchar, supplier_key varchar, supplier_name varchar, reason varchar,
    first_invoice_id varchar, first_invoice_date date, first_amount decimal(18, 4),
    first_line_count bigint, first_source_file varchar, first_source_row bigint,
    first_delivery_id varchar, second_invoice_id varchar, second_invoice_date date,
    second_amount decimal(18, 4), second_line_count bigint, second_source_file varchar,
    second_source_row bigint, second_delivery_id varchar, is_same_delivery boolean,
    days_apart integer
);
insert into marts.possible_duplicate_invoices values
    ('5035', 'name:kiosken', 'Kiosken på hjørnet',
        'same amount within 7 days under another invoice id', 'K-17', date '2024-05-02', 799,
        1, 'stjordal_may.csv', 20, 'D3', 'K-18', date '2024-05-06', 799, 1, 'stjordal_may.csv',
        21, 'D3', true, 4),
    ('5035', '911111111', 'Kontor AS', 'same invoice id delivered twice', 'F-2001',
        date '2024-02-01', 12500, 2, 'stjordal_jan.csv', 10, 'D1', 'F-2001', date '2024-02-01',
        12500, 2, 'stjordal_feb.csv', 4, 'D2', false, 0),
    ('5032', '922222222', 'Bygg AS', 'same amount within 7 days under another invoice id',
        'B-1', date '2024-12-30', 45000, 3, 'selbu.xml', 7, 'D9', 'B-2', date '2025-01-03',
        45000, 1, 'selbu2.xml', 1, 'D10', false, 4),
    ('5033', '933333333', 'Transport AS', 'same invoice id delivered twice', 'T-5',
        date '2023-08-01', 3000, 1, 'tydal.csv', 2, 'D5', 'T-5', date '2023-08-01', 3000, 1,
        'tydal_2.csv', 2, 'D6', false, 0);

-- 2024, all members, largest amount first: Kantina AS (Stjørdal, above the cap), VISA NORGE
-- (Selbu, catch-all), lines without a supplier (Stjørdal). 2023: Tydal's lines without one.
create table marts.possible_duplicate_payees (
    municipality_id varchar, supplier_key varchar, supplier_name varchar, year integer,
    reason varchar, invoice_count bigint, line_count bigint, amount decimal(18, 4),
    pair_count bigint, first_invoice_date date, last_invoice_date date
);
insert into marts.possible_duplicate_payees values
    ('5035', 'name:', null, 2024, 'no supplier identity', 3, 4, 1800.5, 0, date '2024-03-01',
        date '2024-09-30'),
    ('5032', 'name:visa norge', 'VISA NORGE', 2024, 'catch-all payee (pattern ^visa)', 140, 150,
        52000, 61, date '2024-01-04', date '2024-12-19'),
    ('5035', '944444444', 'Kantina AS', 2024, 'more than 50 possible pairs', 420, 600, 350000,
        75, date '2024-01-02', date '2024-12-20'),
    ('5033', 'name:', null, 2023, 'no supplier identity', 1, 1, 250, 0, date '2023-05-05',
        date '2023-05-05');
"""


# marts.data_completeness: both years complete (2024 the default); a test makes 2024 partial
COMPLETENESS_SQL = """
create table marts.data_completeness as
select municipality_id, year, 12 as months_with_spend, make_date(year, 1, 1) as first_month,
    make_date(year, 12, 1) as last_month, true as is_complete_year,
    case when municipality_id = 'ALL' then 3 end as member_count,
    case when municipality_id = 'ALL' then 3 end as delivering_member_count,
    case when municipality_id = 'ALL' then 3 end as complete_member_count,
    year = 2024 as is_default_year
from marts.municipality_kpis;
"""


# The deliveries page: Stjørdal delivered 3 days ago (on time under the monthly SLA), Selbu
# last on 2024-06-05 and then sent a file that was rejected (overdue), Tydal never had a
# delivery accepted (overdue).
DELIVERIES_SQL = """
create table marts.delivery_reconciliation (
    delivery_id varchar, municipality_id varchar, source_file varchar, status varchar,
    delivery_period varchar, loaded_at timestamp, message varchar
);
insert into marts.delivery_reconciliation values
    ('d1', '5035', '/data/stjordal/2024-05.csv', 'replaced', '2024-05',
        current_date - interval 40 day, 'replaced by 2024-05b.csv'),
    ('d2', '5035', '/data/stjordal/2024-05b.csv', 'loaded', '2024-05',
        current_date - interval 3 day, '120 rows loaded'),
    ('d3', '5032', '/data/selbu/2024-05.csv', 'loaded', '2024-05',
        timestamp '2024-06-05 08:00:00', '80 rows loaded'),
    ('d4', '5032', '/data/selbu/2024-06.csv', 'rejected', null,
        timestamp '2024-07-05 08:00:00', '2024-06.csv: missing required column ''Beløp'''),
    ('d5', '5033', '/data/tydal/x.csv', 'rejected', null,
        timestamp '2024-07-01 08:00:00', 'x.csv: every row is rejected (2)');
"""


# The council pages' marts (compare, eHandel, categories, member, suppliers, data status).
# eHandel 2024: Stjørdal 25 % of influenceable (250 000), 50 % of on-agreement (320 000);
# Selbu 50 % (150 000) and 25 % (30 000); Tydal none. ALL: 400 000 / 1 400 000 = 28.6 %,
# 350 000 / 810 000 = 43.2 %. Off-agreement per inhabitant 2024: Tydal 0 (rank 1),
# Stjørdal 160 000 / 24 050 = 6.65 (2), Selbu 80 000 / 4 096 = 19.53 (3); 2023: Tydal 0 (1),
# Selbu 10 000 / 4 096 (2), Stjørdal 130 000 / 24 050 (3). Private persons ('name:' keys):
# Ola Nordmann and Kari Nordmann (Stjørdal 2024, 60 000 off agreement) and the register's
# person Fosterhjem Hansen (Selbu, 15 000), never named.
COUNCIL_SQL = """
create or replace table marts.municipality_kpis as
with
fractions (municipality_id, share_influenceable, share_on_agreement) as (
    values ('5035', 0.25, 0.5), ('5032', 0.5, 0.25), ('5033', 0.0, 0.0)
),
members as (
    select k.municipality_id, k.year,
        (k.influenceable_spend * f.share_influenceable)::decimal(18, 4)
            as ehandel_influenceable_spend,
        (k.on_agreement_spend * f.share_on_agreement)::decimal(18, 4)
            as ehandel_on_agreement_spend
    from marts.municipality_kpis as k
    inner join fractions as f using (municipality_id)
),
ehandel as (
    select * from members
    union all
    select 'ALL', year, sum(ehandel_influenceable_spend), sum(ehandel_on_agreement_spend)
    from members group by year
)
select k.*, e.ehandel_influenceable_spend, e.ehandel_on_agreement_spend,
    e.ehandel_influenceable_spend / nullif(k.influenceable_spend, 0)
        as ehandel_share_of_influenceable,
    e.ehandel_on_agreement_spend / nullif(k.on_agreement_spend, 0)
        as ehandel_share_of_on_agreement
from marts.municipality_kpis as k
inner join ehandel as e using (municipality_id, year);

create table marts.per_capita as
with members as (
    select k.municipality_id, k.municipality_name, k.year, m.population::bigint as population,
        k.total_spend, k.influenceable_spend, k.off_agreement_spend
    from marts.municipality_kpis as k
    inner join marts.dim_municipalities as m using (municipality_id)
),
rows as (
    select * from members
    union all
    select 'ALL', 'Testregionen Innkjøp', year, sum(population), sum(total_spend),
        sum(influenceable_spend), sum(off_agreement_spend)
    from members group by year
)
select *, 1 as municipality_count,
    (total_spend / population)::decimal(18, 4) as total_spend_per_inhabitant,
    (influenceable_spend / population)::decimal(18, 4) as influenceable_spend_per_inhabitant,
    (off_agreement_spend / population)::decimal(18, 4) as off_agreement_spend_per_inhabitant
from rows;

create table marts.dim_categories (
    category_id varchar, category_name varchar, parent_category_id varchar, is_leaf boolean
);
insert into marts.dim_categories values
    ('OFFICE', 'Kontorrekvisita', null, true), ('FOOD', 'Mat og drikke', null, true),
    ('CLEANING', 'Renhold', null, true), ('BUILD', 'Bygg', null, true),
    ('PLUMBING', 'Rørleggertjenester', null, true), ('TRANSPORT', 'Transport', null, true),
    ('unclassified', 'Uklassifisert', null, true);

-- 2024: Renhold (Stjørdal only, 200 000) has no agreement for anyone: the one candidate.
create temporary table category_rows (
    municipality_id varchar, year integer, category_id varchar,
    influenceable_spend decimal(18, 4), covered_spend decimal(18, 4),
    on_agreement_spend decimal(18, 4), ehandel_influenceable_spend decimal(18, 4),
    ehandel_on_agreement_spend decimal(18, 4)
);
insert into category_rows values
    ('5035', 2024, 'OFFICE', 600000, 600000, 500000, 200000, 200000),
    ('5035', 2024, 'FOOD', 200000, 200000, 140000, 50000, 40000),
    ('5035', 2024, 'CLEANING', 200000, 0, 0, 0, 0),
    ('5032', 2024, 'OFFICE', 300000, 200000, 120000, 150000, 30000),
    ('5033', 2024, 'OFFICE', 100000, 50000, 50000, 0, 0),
    ('5035', 2023, 'OFFICE', 900000, 600000, 470000, 0, 0);
create table marts.category_kpis as
with rows as (
    select * from category_rows
    union all
    select 'ALL', year, category_id, sum(influenceable_spend), sum(covered_spend),
        sum(on_agreement_spend), sum(ehandel_influenceable_spend),
        sum(ehandel_on_agreement_spend)
    from category_rows group by year, category_id
)
select r.municipality_id, r.year, r.category_id, c.category_name,
    c.parent_category_id, r.influenceable_spend, r.covered_spend, r.on_agreement_spend,
    r.covered_spend - r.on_agreement_spend as off_agreement_spend,
    r.covered_spend / nullif(r.influenceable_spend, 0) as coverage,
    r.on_agreement_spend / nullif(r.covered_spend, 0) as loyalty,
    1::bigint as spend_line_count, r.ehandel_influenceable_spend, r.ehandel_on_agreement_spend,
    r.ehandel_influenceable_spend / nullif(r.influenceable_spend, 0)
        as ehandel_share_of_influenceable,
    r.ehandel_on_agreement_spend / nullif(r.on_agreement_spend, 0)
        as ehandel_share_of_on_agreement
from rows as r
left join marts.dim_categories as c using (category_id);

create table marts.fct_spend_lines (
    municipality_id varchar, year integer, supplier_key varchar, supplier_org_no varchar,
    supplier_name varchar, category_id varchar, amount decimal(18, 4),
    is_influenceable boolean, is_covered boolean, is_on_agreement boolean,
    description varchar, order_ref varchar
);
insert into marts.fct_spend_lines values
    ('5035', 2024, '911111111', '911111111', 'Kontor AS', 'OFFICE', 300000, true, true, true,
        'Kopipapir', 'EH-1'),
    ('5035', 2024, '944444444', '944444444', 'Kontorkjeden AS', 'OFFICE', 100000, true, true,
        false, 'Penner', null),
    ('5035', 2024, 'name:ola nordmann', null, 'Ola Nordmann', 'OFFICE', 40000, true, true,
        false, 'Refusjon reise Ola Nordmann', null),
    ('5035', 2024, 'name:kari nordmann', null, 'Kari Nordmann', 'FOOD', 20000, true, true,
        false, 'Fosterhjem Kari Nordmann', null),
    ('5032', 2024, '911111111', '911111111', 'Kontor AS', 'OFFICE', 90000, true, true, true,
        'Toner', 'EH-2'),
    ('5032', 2024, '944444444', '944444444', 'Kontorkjeden AS', 'OFFICE', 23000, true, true,
        false, 'Permer', null),
    ('5032', 2024, 'register:S-FOSTER', null, 'Fosterhjem Hansen', 'FOOD', 15000, true, true,
        false, 'Godtgjørelse', null);

-- the supplier register marks S-FOSTER a person (is_person)
create table marts.private_payees as select 'register:S-FOSTER' as supplier_key;

create table marts.suppliers as
select supplier_key, year, any_value(supplier_org_no) as supplier_org_no,
    any_value(supplier_name) as supplier_name, sum(amount) as total_spend,
    sum(amount) as influenceable_spend, sum(amount) as covered_spend,
    sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
    sum(case when is_on_agreement then 0 else amount end) as off_agreement_spend,
    sum(case when is_on_agreement then amount else 0 end) / sum(amount) as on_agreement_share,
    bool_or(is_on_agreement) as holds_agreement,
    max(case when is_on_agreement then 1 else 0 end)::bigint as agreement_count,
    count(distinct municipality_id)::bigint as member_count
from marts.fct_spend_lines
group by supplier_key, year;

create table marts.dim_agreements (
    agreement_id varchar, agreement_name varchar, scope varchar, valid_from date,
    valid_to date, supplier_org_nos varchar
);
insert into marts.dim_agreements values
    ('A-01', 'Kontorrekvisita', 'cooperation', date '2022-01-01', date '2025-03-31',
        '911111111, 955555555'),
    ('A-02', 'Matvarer', 'local', date '2023-01-01', date '2024-12-31', '955555555');

create table marts.rejected_rows (
    municipality_id varchar, delivery_id varchar, source_file varchar, source_row bigint,
    reason varchar, raw_row varchar, rejected_at timestamp, rejected_by varchar
);
insert into marts.rejected_rows values
    ('5032', 'd4', '2024-06.csv', 2, 'missing column', '', timestamp '2024-07-05', 'loader'),
    ('5033', 'd5', 'x.csv', 2, 'bad amount', '', timestamp '2024-07-01', 'loader'),
    ('5033', 'd5', 'x.csv', 3, 'bad amount', '', timestamp '2024-07-01', 'loader');

create table marts.unmapped_codes (
    municipality_id varchar, municipality_name varchar, year integer, account_code varchar,
    has_account boolean, art varchar, line_count bigint, amount decimal(18, 4),
    member_total_spend decimal(18, 4), share_of_member_spend double,
    largest_supplier_name varchar
);
insert into marts.unmapped_codes values
    ('5035', 'Stjørdal', 2024, '9999', true, null, 3, 15000, 1500000, 0.01, 'Kontor AS');
"""


def build_snapshot(path: Path) -> Path:
    """Write the sample snapshot to `path` (replacing it) and return the path."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(SNAPSHOT_SQL)
        con.execute(FOLLOWUP_SQL)
        con.execute(COMPLETENESS_SQL)
        con.execute(DELIVERIES_SQL)
        con.execute(COUNCIL_SQL)
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
