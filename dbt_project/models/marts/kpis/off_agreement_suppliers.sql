-- Purchases outside agreements ("kjøp utenfor avtale"), per municipality (and
-- 'ALL'), year and supplier: the covered spend that is not on-agreement
-- (rule 5). A supplier is its validated organisation number, or its normalised
-- name ('name:' || lower(trim(collapsed whitespace))) when it has none.
-- Only rows with off_agreement_spend <> 0.

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_covered

),

keyed as (

    select
        municipality_id,
        year,
        case
            when is_supplier_org_no_valid and supplier_org_no is not null
                then supplier_org_no
            else {{ dbt.concat([
                "'name:'",
                "coalesce(lower(trim(" ~ collapse_whitespace('supplier_name') ~ ")), '')",
            ]) }}
        end as supplier_key,
        case
            when is_supplier_org_no_valid then supplier_org_no
        end as supplier_org_no,
        supplier_name,
        amount,
        is_on_agreement

    from spend_lines

),

by_municipality as (

    select
        municipality_id,
        year,
        supplier_key,
        max(supplier_org_no) as supplier_org_no,
        sum(case when not is_on_agreement then amount else 0 end) as off_agreement_spend,
        sum(amount) as covered_spend,
        count(case when not is_on_agreement then 1 end) as line_count

    from keyed

    group by
        municipality_id,
        year,
        supplier_key

),

by_cooperation as (

    select
        'ALL' as municipality_id,
        year,
        supplier_key,
        max(supplier_org_no) as supplier_org_no,
        sum(off_agreement_spend) as off_agreement_spend,
        sum(covered_spend) as covered_spend,
        sum(line_count) as line_count

    from by_municipality

    group by
        year,
        supplier_key

),

supplier_totals as (

    select
        municipality_id,
        year,
        supplier_key,
        supplier_org_no,
        off_agreement_spend,
        covered_spend,
        line_count

    from by_municipality

    union all

    select
        municipality_id,
        year,
        supplier_key,
        supplier_org_no,
        off_agreement_spend,
        covered_spend,
        line_count

    from by_cooperation

),

-- the supplier's most frequent name on its covered lines (ties: first by name)
name_counts as (

    select
        municipality_id,
        year,
        supplier_key,
        supplier_name,
        count(*) as name_count

    from keyed

    where supplier_name is not null

    group by
        municipality_id,
        year,
        supplier_key,
        supplier_name

),

name_counts_with_cooperation as (

    select
        municipality_id,
        year,
        supplier_key,
        supplier_name,
        name_count

    from name_counts

    union all

    select
        'ALL' as municipality_id,
        year,
        supplier_key,
        supplier_name,
        sum(name_count) as name_count

    from name_counts

    group by
        year,
        supplier_key,
        supplier_name

),

ranked_names as (

    select
        municipality_id,
        year,
        supplier_key,
        supplier_name,
        row_number() over (
            partition by municipality_id, year, supplier_key
            order by name_count desc, supplier_name asc
        ) as name_rank

    from name_counts_with_cooperation

),

final as (

    select
        supplier_totals.municipality_id,
        supplier_totals.year,
        supplier_totals.supplier_key,
        supplier_totals.supplier_org_no,
        ranked_names.supplier_name,
        cast(supplier_totals.off_agreement_spend as decimal(18, 4)) as off_agreement_spend,
        cast(supplier_totals.covered_spend as decimal(18, 4)) as covered_spend,
        cast(supplier_totals.line_count as bigint) as line_count

    from supplier_totals

    left join ranked_names
        on
            supplier_totals.municipality_id = ranked_names.municipality_id
            and supplier_totals.year = ranked_names.year
            and supplier_totals.supplier_key = ranked_names.supplier_key
            and ranked_names.name_rank = 1

    where supplier_totals.off_agreement_spend <> 0

)

select * from final
