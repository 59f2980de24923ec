-- One row per member municipality (and 'ALL' for the cooperation) and year:
-- the year rows of kpis_by_period.

with

kpis as (

    select * from {{ ref('kpis_by_period') }}

    where period_type = 'year'

),

final as (

    select
        municipality_id,
        municipality_name,
        year,
        total_spend,
        influenceable_spend,
        covered_spend,
        on_agreement_spend,
        off_agreement_spend,
        coverage,
        loyalty,
        shared_covered_spend,
        shared_on_agreement_spend,
        shared_coverage,
        shared_loyalty,
        unclassified_spend,
        supplier_loyalty,
        unknown_art_spend,
        national_covered_spend,
        national_on_agreement_spend,
        national_coverage,
        national_loyalty,
        local_covered_spend,
        local_on_agreement_spend,
        local_coverage,
        local_loyalty,
        supplier_agreement_spend,
        spend_line_count

    from kpis

)

select * from final
