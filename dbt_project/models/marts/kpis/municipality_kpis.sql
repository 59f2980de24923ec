-- One row per member municipality (and 'ALL' for the cooperation) and year:
-- the year rows of kpis_by_period, with the share of spend ordered through
-- e-commerce (eHandel: lines with an order reference, macro is_ordered_through_ehandel).

with

kpis as (

    select * from {{ ref('kpis_by_period') }}

    where period_type = 'year'

),

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_influenceable

),

ehandel_by_municipality as (

    select
        municipality_id,
        year,
        {{ ehandel_spend_columns() }}

    from spend_lines

    group by
        municipality_id,
        year

),

ehandel as (

    {{ with_cooperation_rollup(
        'ehandel_by_municipality',
        ['year'],
        ['ehandel_influenceable_spend', 'ehandel_on_agreement_spend'],
    ) }}

),

final as (

    select
        kpis.municipality_id,
        kpis.municipality_name,
        kpis.year,
        kpis.total_spend,
        kpis.influenceable_spend,
        kpis.covered_spend,
        kpis.on_agreement_spend,
        kpis.off_agreement_spend,
        kpis.coverage,
        kpis.loyalty,
        kpis.shared_covered_spend,
        kpis.shared_on_agreement_spend,
        kpis.shared_coverage,
        kpis.shared_loyalty,
        kpis.unclassified_spend,
        kpis.supplier_loyalty,
        kpis.unknown_art_spend,
        kpis.national_covered_spend,
        kpis.national_on_agreement_spend,
        kpis.national_coverage,
        kpis.national_loyalty,
        kpis.local_covered_spend,
        kpis.local_on_agreement_spend,
        kpis.local_coverage,
        kpis.local_loyalty,
        kpis.supplier_agreement_spend,
        kpis.spend_line_count,
        cast(
            coalesce(ehandel.ehandel_influenceable_spend, 0) as decimal(38, 4)
        ) as ehandel_influenceable_spend,
        cast(
            coalesce(ehandel.ehandel_on_agreement_spend, 0) as decimal(38, 4)
        ) as ehandel_on_agreement_spend,
        {{ safe_ratio(
            'coalesce(ehandel.ehandel_influenceable_spend, 0)', 'kpis.influenceable_spend'
        ) }} as ehandel_share_of_influenceable,
        {{ safe_ratio(
            'coalesce(ehandel.ehandel_on_agreement_spend, 0)', 'kpis.on_agreement_spend'
        ) }} as ehandel_share_of_on_agreement

    from kpis

    left join ehandel
        on
            kpis.municipality_id = ehandel.municipality_id
            and kpis.year = ehandel.year

)

select * from final
