-- Mapping coverage: per member, year and local account code, the lines whose
-- KOSTRA art is missing or not in kostra_arts (fct_spend_lines.is_art_known is
-- false). Such a line is not influenceable (rule 1: unknown art), so each row is
-- spend that coverage and loyalty leave out until the member's source profile
-- maps the code. Lines without an account code are one row, account_code
-- '(no account)'. The share is of the member's total spend in that year, credit
-- notes counted as they are; NULL when that total is 0 (rule 7).

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

municipalities as (

    select * from {{ ref('dim_municipalities') }}

),

member_totals as (

    select
        municipality_id,
        year,
        sum(amount) as member_total_spend

    from spend_lines

    group by
        municipality_id,
        year

),

unmapped_lines as (

    select
        municipality_id,
        year,
        coalesce(account, '(no account)') as account_code,
        account is not null as has_account,
        -- '' stands for "no art" inside this model, so that the grain joins on equality
        coalesce(art, '') as art_key,
        supplier_name,
        amount

    from spend_lines

    where not is_art_known

),

by_code as (

    select
        municipality_id,
        year,
        account_code,
        has_account,
        art_key,
        count(*) as line_count,
        sum(amount) as amount

    from unmapped_lines

    group by
        municipality_id,
        year,
        account_code,
        has_account,
        art_key

),

by_supplier as (

    select
        municipality_id,
        year,
        account_code,
        art_key,
        supplier_name,
        sum(amount) as supplier_amount

    from unmapped_lines

    group by
        municipality_id,
        year,
        account_code,
        art_key,
        supplier_name

),

ranked_suppliers as (

    select
        municipality_id,
        year,
        account_code,
        art_key,
        supplier_name,
        row_number() over (
            partition by municipality_id, year, account_code, art_key
            order by supplier_amount desc, supplier_name asc
        ) as supplier_rank

    from by_supplier

),

final as (

    select
        by_code.municipality_id,
        municipalities.municipality_name,
        by_code.year,
        by_code.account_code,
        by_code.has_account,
        nullif(by_code.art_key, '') as art,
        cast(by_code.line_count as bigint) as line_count,
        cast(by_code.amount as decimal(38, 4)) as amount,
        cast(member_totals.member_total_spend as decimal(38, 4)) as member_total_spend,
        {{ safe_ratio('by_code.amount', 'member_totals.member_total_spend') }}
            as share_of_member_spend,
        ranked_suppliers.supplier_name as largest_supplier_name

    from by_code

    inner join member_totals
        on
            by_code.municipality_id = member_totals.municipality_id
            and by_code.year = member_totals.year

    left join ranked_suppliers
        on
            by_code.municipality_id = ranked_suppliers.municipality_id
            and by_code.year = ranked_suppliers.year
            and by_code.account_code = ranked_suppliers.account_code
            and by_code.art_key = ranked_suppliers.art_key
            and ranked_suppliers.supplier_rank = 1

    left join municipalities
        on by_code.municipality_id = municipalities.municipality_id

)

select * from final
