-- Purchases outside agreements ("kjøp utenfor avtale"), per municipality (and
-- 'ALL'), year and supplier: the covered spend that is not on-agreement
-- (rule 5). A supplier is its supplier_key (its identity: organisation number or
-- supplier register, int_supplier_identities; else 'name:' and the normalised
-- name), shown with the name of int_supplier_names. Only rows with
-- off_agreement_spend <> 0.

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_covered

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

by_municipality as (

    select
        municipality_id,
        year,
        supplier_key,
        max(identified_org_no) as supplier_org_no,
        sum(case when not is_on_agreement then amount else 0 end) as off_agreement_spend,
        sum(amount) as covered_spend,
        count(case when not is_on_agreement then 1 end) as line_count

    from spend_lines

    group by
        municipality_id,
        year,
        supplier_key

),

supplier_totals as (

    {{ with_cooperation_rollup(
        'by_municipality',
        ['year', 'supplier_key'],
        ['supplier_org_no', 'off_agreement_spend', 'covered_spend', 'line_count'],
        {'supplier_org_no': 'max(supplier_org_no)'},
    ) }}

),

final as (

    select
        supplier_totals.municipality_id,
        supplier_totals.year,
        supplier_totals.supplier_key,
        supplier_totals.supplier_org_no,
        supplier_names.supplier_name,
        cast(supplier_totals.off_agreement_spend as decimal(38, 4)) as off_agreement_spend,
        cast(supplier_totals.covered_spend as decimal(38, 4)) as covered_spend,
        cast(supplier_totals.line_count as bigint) as line_count

    from supplier_totals

    left join supplier_names
        on supplier_totals.supplier_key = supplier_names.supplier_key

    where supplier_totals.off_agreement_spend <> 0

)

select * from final
