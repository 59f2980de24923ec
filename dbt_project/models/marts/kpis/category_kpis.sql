-- Coverage and loyalty per municipality (and 'ALL'), year and category, over
-- influenceable lines only; unclassified lines are the 'unclassified' category.
-- 'ALL' rows add the municipalities' amounts before dividing (rule 8). eHandel:
-- spend ordered through e-commerce (macro is_ordered_through_ehandel).

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_influenceable

),

categories as (

    select * from {{ ref('dim_categories') }}

),

by_municipality as (

    select
        municipality_id,
        year,
        category_id,
        sum(amount) as influenceable_spend,
        sum(case when is_covered then amount else 0 end) as covered_spend,
        sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
        count(*) as spend_line_count,
        {{ ehandel_spend_columns() }}

    from spend_lines

    group by
        municipality_id,
        year,
        category_id

),

unioned as (

    {{ with_cooperation_rollup(
        'by_municipality',
        ['year', 'category_id'],
        [
            'influenceable_spend', 'covered_spend', 'on_agreement_spend', 'spend_line_count',
            'ehandel_influenceable_spend', 'ehandel_on_agreement_spend',
        ],
    ) }}

),

final as (

    select
        unioned.municipality_id,
        unioned.year,
        unioned.category_id,
        categories.category_name,
        categories.parent_category_id,
        cast(unioned.influenceable_spend as decimal(38, 4)) as influenceable_spend,
        cast(unioned.covered_spend as decimal(38, 4)) as covered_spend,
        cast(unioned.on_agreement_spend as decimal(38, 4)) as on_agreement_spend,
        {{ off_agreement_spend(
            'unioned.covered_spend', 'unioned.on_agreement_spend'
        ) }} as off_agreement_spend,
        {{ safe_ratio('unioned.covered_spend', 'unioned.influenceable_spend') }} as coverage,
        {{ safe_ratio('unioned.on_agreement_spend', 'unioned.covered_spend') }} as loyalty,
        cast(unioned.spend_line_count as bigint) as spend_line_count,
        cast(
            unioned.ehandel_influenceable_spend as decimal(38, 4)
        ) as ehandel_influenceable_spend,
        cast(
            unioned.ehandel_on_agreement_spend as decimal(38, 4)
        ) as ehandel_on_agreement_spend,
        {{ safe_ratio(
            'unioned.ehandel_influenceable_spend', 'unioned.influenceable_spend'
        ) }} as ehandel_share_of_influenceable,
        {{ safe_ratio(
            'unioned.ehandel_on_agreement_spend', 'unioned.on_agreement_spend'
        ) }} as ehandel_share_of_on_agreement

    from unioned

    left join categories
        on unioned.category_id = categories.category_id

)

select * from final
