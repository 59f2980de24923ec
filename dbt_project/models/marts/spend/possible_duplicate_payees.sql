-- Payees whose invoices are listed here instead of being paired in
-- possible_duplicate_invoices: one row per member, payee (supplier_key) and
-- year in which the payee has live lines at the member. The first rule that
-- applies gives the reason:
--
-- 1. 'no supplier identity': supplier_key = 'name:', lines with neither an
--    organisation number nor a supplier name (they are not one payee).
-- 2. 'catch-all payee (pattern P)': the supplier's name (int_supplier_names)
--    matches P, the first of var('catch_all_payees') that matches (regular
--    expressions, case-insensitive; default none), e.g. a card issuer or
--    'redacted personal data'. The payee is listed in every year.
-- 3. 'more than N possible pairs': the payee's candidate pairs
--    (int_invoice_pairs_proposed) whose first invoice is dated in the year
--    number more than N = var('duplicate_max_pairs_per_supplier') (default
--    50). The cap is per year, so a payee's earlier years do not change as
--    later deliveries arrive; its other years are paired if under the cap.
--
-- invoice_count (distinct invoice ids), line_count, amount, first and last
-- invoice date are the year's; pair_count is the candidate pairs the two
-- rules give for the year (whatever the reason, so an analyst sees what was
-- left unchecked).

{%- set catch_all_payees = var('catch_all_payees', []) %}
{%- set max_pairs = var('duplicate_max_pairs_per_supplier', 50) | int %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

pairs as (

    select * from {{ ref('int_invoice_pairs_proposed') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

payee_years as (

    select
        municipality_id,
        supplier_key,
        cast(extract(year from invoice_date) as integer) as year,
        count(distinct invoice_id) as invoice_count,
        count(*) as line_count,
        sum(amount) as amount,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date

    from spend_lines

    group by
        municipality_id,
        supplier_key,
        cast(extract(year from invoice_date) as integer)

),

pair_counts as (

    select
        municipality_id,
        supplier_key,
        first_invoice_year as year,
        count(*) as pair_count

    from pairs

    group by
        municipality_id,
        supplier_key,
        first_invoice_year

),

payees as (

    select
        payee_years.*,
        supplier_names.supplier_name,
        coalesce(pair_counts.pair_count, 0) as pair_count

    from payee_years

    left join pair_counts
        on
            payee_years.municipality_id = pair_counts.municipality_id
            and payee_years.supplier_key = pair_counts.supplier_key
            and payee_years.year = pair_counts.year

    left join supplier_names
        on payee_years.supplier_key = supplier_names.supplier_key

),

classified as (

    select
        *,
        case
            when supplier_key = 'name:' then 'no supplier identity'
            {%- for pattern in catch_all_payees %}
            when {{ matches_pattern_ignoring_case('supplier_name', pattern) }}
                then {{ sql_string_literal('catch-all payee (pattern ' ~ pattern ~ ')') }}
            {%- endfor %}
            when pair_count > {{ max_pairs }} then 'more than {{ max_pairs }} possible pairs'
        end as reason

    from payees

),

final as (

    select
        municipality_id,
        supplier_key,
        supplier_name,
        year,
        reason,
        invoice_count,
        line_count,
        cast(amount as decimal(38, 4)) as amount,
        pair_count,
        cast(first_invoice_date as date) as first_invoice_date,
        cast(last_invoice_date as date) as last_invoice_date

    from classified

    where reason is not null

)

select * from final
