{#
    BRIEF §4 rule 8, the cooperation as a whole: the rows of `relation` (one per
    member, `municipality_id`, and per `dimensions`) and, per combination of the
    dimensions, one 'ALL' row whose measures are the members' amounts and counts
    added up (`sum`; `all_aggregates` names another aggregate for a measure that is
    not simply added, e.g. a population known only when every member's is). The
    marts compute their ratios from these summed amounts afterwards (safe_ratio),
    never as a mean of the members' ratios. Used by every mart with 'ALL' rows.
#}
{% macro with_cooperation_rollup(relation, dimensions, measures, all_aggregates={}) -%}
    select
        municipality_id,
        {% for dimension in dimensions -%}
        {{ dimension }},
        {% endfor -%}
        {% for measure in measures -%}
        {{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ relation }}

    union all

    select
        'ALL' as municipality_id,
        {% for dimension in dimensions -%}
        {{ dimension }},
        {% endfor -%}
        {% for measure in measures -%}
        {{ all_aggregates.get(measure, 'sum(' ~ measure ~ ')') }} as {{ measure }}{{ ',' if not loop.last }}
        {% endfor %}
    from {{ relation }}

    group by
        {% for dimension in dimensions -%}
        {{ dimension }}{{ ',' if not loop.last }}
        {% endfor %}
{%- endmacro %}


{#
    The name shown on a row of a mart with 'ALL' rows: the member's name, or the
    cooperation's on the 'ALL' row.
#}
{% macro member_or_cooperation_name(municipality_id, municipality_name, cooperation_name) -%}
    coalesce(
        {{ municipality_name }},
        case when {{ municipality_id }} = 'ALL' then {{ cooperation_name }} end
    )
{%- endmacro %}
