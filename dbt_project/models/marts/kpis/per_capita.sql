-- Spend per inhabitant: per member municipality (and 'ALL' for the
-- cooperation) and year, total, influenceable and off-agreement spend (rule 5:
-- covered - on-agreement) divided by the population of cooperation.yml.
--
-- 'ALL' divides the cooperation's summed spend by the summed population of the
-- members that have spend in that year (rule 8: never a mean of ratios). A
-- missing population gives NULL, never 0: for 'ALL' when any of those members
-- has none. A population of 0 gives NULL too (rule 7).

with

kpis as (

    select * from {{ ref('municipality_kpis') }}

),

municipalities as (

    select * from {{ ref('dim_municipalities') }}

),

member_populations as (

    select
        kpis.municipality_id,
        kpis.year,
        municipalities.population

    from kpis

    left join municipalities
        on kpis.municipality_id = municipalities.municipality_id

    where kpis.municipality_id <> 'ALL'

),

member_counts as (

    select
        municipality_id,
        year,
        population,
        1 as municipality_count

    from member_populations

),

-- 'ALL': the summed population, known only when every member's is
populations as (

    {{ with_cooperation_rollup(
        'member_counts',
        ['year'],
        ['population', 'municipality_count'],
        {'population': 'case when count(population) = count(*) then sum(population) end'},
    ) }}

),

final as (

    select
        kpis.municipality_id,
        kpis.municipality_name,
        kpis.year,
        cast(populations.population as bigint) as population,
        cast(populations.municipality_count as integer) as municipality_count,
        kpis.total_spend,
        kpis.influenceable_spend,
        kpis.off_agreement_spend,
        cast({{ safe_ratio('kpis.total_spend', 'populations.population') }} as decimal(38, 4))
            as total_spend_per_inhabitant,
        cast(
            {{ safe_ratio('kpis.influenceable_spend', 'populations.population') }}
            as decimal(38, 4)
        ) as influenceable_spend_per_inhabitant,
        cast(
            {{ safe_ratio('kpis.off_agreement_spend', 'populations.population') }}
            as decimal(38, 4)
        ) as off_agreement_spend_per_inhabitant

    from kpis

    inner join populations
        on
            kpis.municipality_id = populations.municipality_id
            and kpis.year = populations.year

)

select * from final
