-- Coverage and loyalty per member municipality and for the cooperation as a
-- whole ('ALL'), per year, quarter and month (rules 4-8, 10).
--
-- Amounts are summed once per municipality and month, rolled up to quarters,
-- years and 'ALL' by adding amounts, and only then divided: the cooperation's
-- ratios come from summed amounts, never from a mean of ratios (rule 8).
-- A ratio whose denominator is 0 is NULL (rule 7).

{%- set spend_measures = [
    'total_spend',
    'influenceable_spend',
    'unknown_art_spend',
    'covered_spend',
    'on_agreement_spend',
    'national_covered_spend',
    'national_on_agreement_spend',
    'shared_covered_spend',
    'shared_on_agreement_spend',
    'local_covered_spend',
    'local_on_agreement_spend',
    'unclassified_spend',
    'supplier_agreement_spend',
] %}
{%- set scopes = [
    ('national', 'national'),
    ('cooperation', 'shared'),
    ('local', 'local'),
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

monthly as (

    select
        municipality_id,
        month_start,
        sum(amount) as total_spend,
        sum(case when is_influenceable then amount else 0 end) as influenceable_spend,
        sum(case when not is_art_known then amount else 0 end) as unknown_art_spend,
        sum(case when is_covered then amount else 0 end) as covered_spend,
        sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
        {% for scope, prefix in scopes -%}
        sum(case when is_covered_{{ scope }} then amount else 0 end)
            as {{ prefix }}_covered_spend,
        sum(case when is_on_agreement_{{ scope }} then amount else 0 end)
            as {{ prefix }}_on_agreement_spend,
        {% endfor -%}
        sum(
            case when is_influenceable and category_id = 'unclassified' then amount else 0 end
        ) as unclassified_spend,
        sum(
            case when is_influenceable and has_supplier_agreement then amount else 0 end
        ) as supplier_agreement_spend,
        count(*) as spend_line_count

    from spend_lines

    group by
        municipality_id,
        month_start

),

-- the members' months and the cooperation's ('ALL'): summed amounts (rule 8)
monthly_with_cooperation as (

    {{ with_cooperation_rollup(
        'monthly', ['month_start'], spend_measures + ['spend_line_count']
    ) }}

),

months as (

    select
        monthly_with_cooperation.*,
        cast(extract(year from monthly_with_cooperation.month_start) as integer) as year,
        cast(extract(quarter from monthly_with_cooperation.month_start) as integer) as quarter,
        cast(extract(month from monthly_with_cooperation.month_start) as integer) as month,
        cast(
            {{ dbt.date_trunc('quarter', 'monthly_with_cooperation.month_start') }} as date
        ) as quarter_start,
        cast(
            {{ dbt.date_trunc('year', 'monthly_with_cooperation.month_start') }} as date
        ) as year_start

    from monthly_with_cooperation

),

-- quarters and years add up the months' amounts; months are as they are
periods as (

    {% for period_type in ['year', 'quarter'] -%}
    select
        municipality_id,
        '{{ period_type }}' as period_type,
        {{ period_type }}_start as period_start,
        year,
        {{ 'cast(quarter as integer)' if period_type == 'quarter' else 'cast(null as integer)' }}
            as quarter,
        cast(null as integer) as month,
        {% for measure in spend_measures -%}
        sum({{ measure }}) as {{ measure }},
        {% endfor -%}
        sum(spend_line_count) as spend_line_count

    from months

    group by
        municipality_id,
        {{ period_type }}_start,
        year{{ ', quarter' if period_type == 'quarter' }}

    union all

    {% endfor -%}
    select
        municipality_id,
        'month' as period_type,
        month_start as period_start,
        year,
        quarter,
        month,
        {% for measure in spend_measures -%}
        {{ measure }},
        {% endfor -%}
        spend_line_count

    from months

),

final as (

    select
        periods.municipality_id,
        {{ member_or_cooperation_name(
            'periods.municipality_id',
            'municipalities.municipality_name',
            'cooperations.cooperation_name',
        ) }} as municipality_name,
        periods.period_type,
        periods.period_start,
        periods.year,
        periods.quarter,
        periods.month,
        {% for measure in spend_measures[:5] -%}
        cast(periods.{{ measure }} as decimal(38, 4)) as {{ measure }},
        {% endfor -%}
        {{ off_agreement_spend(
            'periods.covered_spend', 'periods.on_agreement_spend'
        ) }} as off_agreement_spend,
        {{ safe_ratio('periods.covered_spend', 'periods.influenceable_spend') }} as coverage,
        {{ safe_ratio('periods.on_agreement_spend', 'periods.covered_spend') }} as loyalty,
        {% for prefix in ['national', 'shared', 'local'] -%}
        cast(periods.{{ prefix }}_covered_spend as decimal(38, 4)) as {{ prefix }}_covered_spend,
        cast(periods.{{ prefix }}_on_agreement_spend as decimal(38, 4))
            as {{ prefix }}_on_agreement_spend,
        {{ safe_ratio('periods.' ~ prefix ~ '_covered_spend', 'periods.influenceable_spend') }}
            as {{ prefix }}_coverage,
        {{ safe_ratio(
            'periods.' ~ prefix ~ '_on_agreement_spend',
            'periods.' ~ prefix ~ '_covered_spend',
        ) }} as {{ prefix }}_loyalty,
        {% endfor -%}
        cast(periods.unclassified_spend as decimal(38, 4)) as unclassified_spend,
        cast(periods.supplier_agreement_spend as decimal(38, 4)) as supplier_agreement_spend,
        {{ safe_ratio('periods.supplier_agreement_spend', 'periods.influenceable_spend') }}
            as supplier_loyalty,
        cast(periods.spend_line_count as bigint) as spend_line_count

    from periods

    cross join cooperations

    left join municipalities
        on periods.municipality_id = municipalities.municipality_id

)

select * from final
