{{ config(meta={'dagster': {'ref': {'name': 'kpis_by_period'}}}) }}

-- Rule 8: the cooperation's ('ALL') amounts are the sums of its members'
-- amounts in every period. Returns the periods where they differ.

with

kpis as (

    select * from {{ ref('kpis_by_period') }}

),

members as (

    select
        period_type,
        period_start,
        sum(total_spend) as total_spend,
        sum(influenceable_spend) as influenceable_spend,
        sum(covered_spend) as covered_spend,
        sum(on_agreement_spend) as on_agreement_spend

    from kpis

    where municipality_id <> 'ALL'

    group by
        period_type,
        period_start

),

cooperation as (

    select * from kpis

    where municipality_id = 'ALL'

)

select
    members.period_type,
    members.period_start

from members

full outer join cooperation
    on
        members.period_type = cooperation.period_type
        and members.period_start = cooperation.period_start

where
    members.total_spend is distinct from cooperation.total_spend
    or members.influenceable_spend is distinct from cooperation.influenceable_spend
    or members.covered_spend is distinct from cooperation.covered_spend
    or members.on_agreement_spend is distinct from cooperation.on_agreement_spend
