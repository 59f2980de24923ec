-- How well the classification rules reach the influenceable spend (rule 2):
-- per member municipality (and 'ALL' for the cooperation) and year, the
-- influenceable spend and line count split by the rule type that decided the
-- line's category (item_code, supplier, art, unclassified), and each part's
-- share of the influenceable spend. 'ALL' adds the members' amounts and counts
-- and divides only then (rule 8); a share with no influenceable spend is NULL
-- (rule 7). Credit notes count as they are.

{%- set rule_types = ['item_code', 'supplier', 'art', 'unclassified'] %}
{%- set measures = [
    'influenceable_spend',
    'item_code_spend',
    'supplier_spend',
    'art_spend',
    'unclassified_spend',
    'item_code_line_count',
    'supplier_line_count',
    'art_line_count',
    'unclassified_line_count',
    'influenceable_line_count',
] %}

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

unioned as (

    {{ with_cooperation_rollup('by_municipality', ['year'], measures) }}

),

final as (

    select
        unioned.municipality_id,
        {{ member_or_cooperation_name(
            'unioned.municipality_id',
            'municipalities.municipality_name',
            'cooperations.cooperation_name',
        ) }} as municipality_name,
        unioned.year,
        cast(unioned.influenceable_spend as decimal(38, 4)) as influenceable_spend,
        cast(
            unioned.item_code_spend + unioned.supplier_spend + unioned.art_spend
            as decimal(38, 4)
        ) as classified_spend,
        {% for rule_type in rule_types -%}
        cast(unioned.{{ rule_type }}_spend as decimal(38, 4)) as {{ rule_type }}_spend,
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
