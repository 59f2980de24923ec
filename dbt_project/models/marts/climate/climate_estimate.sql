-- A spend-based climate estimate: per member municipality (and 'ALL' for the
-- cooperation), year and category, the influenceable spend times the category's
-- emission factor (kg CO2e per currency unit, net of VAT).
--
-- Factor: the category's own factor, else its group's (parent's) factor; only
-- factors in the cooperation's currency apply. No factor: the estimate is NULL
-- and the spend shows in spend_without_factor. The factor's category, source
-- and is_illustrative are carried into every row, so an illustrative factor is
-- never read as a published one. Credit notes count as they are.

with

-- influenceable spend per member (and 'ALL'), year and category
category_spend as (

    select * from {{ ref('category_kpis') }}

),

categories as (

    select * from {{ ref('dim_categories') }}

),

emission_factors as (

    select * from {{ ref('stg_raw__emission_factors') }}

),

cooperations as (

    select * from {{ ref('stg_raw__cooperations') }}

),

municipalities as (

    select * from {{ ref('dim_municipalities') }}

),

usable_factors as (

    select emission_factors.*

    from emission_factors

    inner join cooperations
        on emission_factors.currency = cooperations.currency

),

category_factors as (

    select
        categories.category_id,
        categories.category_name,
        categories.parent_category_id,
        coalesce(own_factors.category_id, group_factors.category_id) as factor_category_id,
        case
            when own_factors.category_id is not null then own_factors.kg_co2e_per_currency_unit
            else group_factors.kg_co2e_per_currency_unit
        end as kg_co2e_per_currency_unit,
        case
            when own_factors.category_id is not null then own_factors.factor_source
            else group_factors.factor_source
        end as factor_source,
        case
            when own_factors.category_id is not null then own_factors.is_illustrative
            else group_factors.is_illustrative
        end as is_illustrative

    from categories

    left join usable_factors as own_factors
        on categories.category_id = own_factors.category_id

    left join usable_factors as group_factors
        on categories.parent_category_id = group_factors.category_id

),

final as (

    select
        category_spend.municipality_id,
        {{ member_or_cooperation_name(
            'category_spend.municipality_id',
            'municipalities.municipality_name',
            'cooperations.cooperation_name',
        ) }} as municipality_name,
        category_spend.year,
        category_spend.category_id,
        category_factors.category_name,
        category_factors.parent_category_id,
        category_spend.influenceable_spend,
        category_spend.spend_line_count,
        category_factors.kg_co2e_per_currency_unit is not null as has_emission_factor,
        category_factors.factor_category_id,
        cast(category_factors.kg_co2e_per_currency_unit as decimal(18, 6))
            as kg_co2e_per_currency_unit,
        case
            when category_factors.kg_co2e_per_currency_unit is not null then cooperations.currency
        end as factor_currency,
        category_factors.factor_source,
        category_factors.is_illustrative,
        cast(
            cast(category_spend.influenceable_spend as decimal(38, 4))
            * cast(category_factors.kg_co2e_per_currency_unit as decimal(38, 6))
            as decimal(38, 4)
        ) as estimated_kg_co2e,
        cast(
            cast(category_spend.influenceable_spend as decimal(38, 4))
            * cast(category_factors.kg_co2e_per_currency_unit as decimal(38, 6))
            * 0.001
            as decimal(38, 6)
        ) as estimated_tonnes_co2e,
        cast(
            case
                when category_factors.kg_co2e_per_currency_unit is null
                    then category_spend.influenceable_spend
                else 0
            end as decimal(38, 4)
        ) as spend_without_factor

    from category_spend

    cross join cooperations

    left join municipalities
        on category_spend.municipality_id = municipalities.municipality_id

    left join category_factors
        on category_spend.category_id = category_factors.category_id

)

select * from final
