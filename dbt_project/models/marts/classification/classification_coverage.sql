-- How well the classification rules reach the influenceable spend (rule 2):
-- per member municipality (and 'ALL' for the cooperation) and year, the
-- influenceable spend and line count split by the rule type that decided the
-- line's category (item_code, supplier, art, unclassified), and each part's
-- share of the influenceable spend. 'ALL' adds the members' amounts and counts
-- and divides only then (rule 8); a share with no influenceable spend is NULL
-- (rule 7). Credit notes count as they are.

{%- set rule_types = ['item_code', 'supplier', 'art', 'unclassified'] %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

municipalities as (

    select * from {{ ref('dim_municipalities') }}

),

cooperations as (

    select * from {{ ref('stg_raw__cooperations') }}

),

by_municipality as (

    select
        municipality_id,
        year,
        sum(case when is_influenceable then amount else 0 end) as influenceable_spend,
        {% for rule_type in rule_types -%}
        sum(
            case
                when is_influenceable and classification_rule_type = '{{ rule_type }}'
                    then amount
                else 0
            end
        ) as {{ rule_type }}_spend,
        {% endfor -%}
        {% for rule_type in rule_types -%}
        count(
            case when is_influenceable and classification_rule_type = '{{ rule_type }}' then 1 end
        ) as {{ rule_type }}_line_count,
        {% endfor -%}
        count(case when is_influenceable then 1 end) as influenceable_line_count

    from spend_lines

    group by
        municipality_id,
        year

),

by_cooperation as (

    select
        'ALL' as municipality_id,
        year,
        sum(influenceable_spend) as influenceable_spend,
        {% for rule_type in rule_types -%}
        sum({{ rule_type }}_spend) as {{ rule_type }}_spend,
        {% endfor -%}
        {% for rule_type in rule_types -%}
        sum({{ rule_type }}_line_count) as {{ rule_type }}_line_count,
        {% endfor -%}
        sum(influenceable_line_count) as influenceable_line_count

    from by_municipality

    group by year

),

unioned as (

    select * from by_municipality

    union all

    select * from by_cooperation

),

final as (

    select
        unioned.municipality_id,
        coalesce(
            municipalities.municipality_name,
            case when unioned.municipality_id = 'ALL' then cooperations.cooperation_name end
        ) as municipality_name,
        unioned.year,
        cast(unioned.influenceable_spend as decimal(18, 4)) as influenceable_spend,
        cast(
            unioned.item_code_spend + unioned.supplier_spend + unioned.art_spend
            as decimal(18, 4)
        ) as classified_spend,
        {% for rule_type in rule_types -%}
        cast(unioned.{{ rule_type }}_spend as decimal(18, 4)) as {{ rule_type }}_spend,
        {% endfor -%}
        {{ safe_ratio(
            'unioned.item_code_spend + unioned.supplier_spend + unioned.art_spend',
            'unioned.influenceable_spend',
        ) }} as classified_share,
        {% for rule_type in rule_types -%}
        {{ safe_ratio('unioned.' ~ rule_type ~ '_spend', 'unioned.influenceable_spend') }}
            as {{ rule_type }}_share,
        {% endfor -%}
        {% for rule_type in rule_types -%}
        cast(unioned.{{ rule_type }}_line_count as bigint) as {{ rule_type }}_line_count,
        {% endfor -%}
        cast(unioned.influenceable_line_count as bigint) as influenceable_line_count

    from unioned

    cross join cooperations

    left join municipalities
        on unioned.municipality_id = municipalities.municipality_id

)

select * from final
