{{ config(meta={'dagster': {'ref': {'name': 'kpis_by_period'}}}) }}

-- The cooperation's yearly total spend adds up to every line of fct_spend_lines.

with

kpis as (

    select sum(total_spend) as total_spend

    from {{ ref('kpis_by_period') }}

    where municipality_id = 'ALL' and period_type = 'year'

),

spend_lines as (

    select sum(amount) as total_spend

    from {{ ref('fct_spend_lines') }}

)

select
    kpis.total_spend as kpis_total_spend,
    spend_lines.total_spend as spend_lines_total_spend

from kpis

cross join spend_lines

where kpis.total_spend is distinct from spend_lines.total_spend
