{#
    Item classification codes (CPV, UNSPSC) are compared without spaces and
    without a "-check digit" suffix: "3019 2000-1" -> "30192000".
#}
{% macro normalize_item_code(expression) -%}
    nullif({{ dbt.split_part(dbt.replace(expression, "' '", "''"), "'-'", 1) }}, '')
{%- endmacro %}


{#
    Runs of whitespace become one space; used for the name-based supplier key
    when a supplier has no valid organisation number.
#}
{% macro collapse_whitespace(expression) -%}
    {{ return(adapter.dispatch('collapse_whitespace', 'samkjop')(expression)) }}
{%- endmacro %}

{# DuckDB's \s is ASCII only: no-break and other Unicode spaces count as whitespace too. #}
{% macro duckdb__collapse_whitespace(expression) -%}
    regexp_replace(
        {{ expression }},
        '[\s\x{00a0}\x{2000}-\x{200a}\x{202f}\x{205f}\x{3000}]+',
        ' ',
        'g'
    )
{%- endmacro %}

{% macro default__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, '\s+', ' ', 'g')
{%- endmacro %}

{% macro snowflake__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, '\\s+', ' ')
{%- endmacro %}

{% macro bigquery__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, r'\s+', ' ')
{%- endmacro %}


{#
    A supplier is its validated organisation number, or - where the number is
    missing or invalid - 'name:' and its name in lower case with runs of
    whitespace collapsed ('name:' alone when there is no name either).
#}
{% macro supplier_key(org_no, is_org_no_valid, name) -%}
    case
        when {{ is_org_no_valid }} and {{ org_no }} is not null then {{ org_no }}
        else {{ dbt.concat([
            "'name:'",
            "coalesce(lower(trim(" ~ collapse_whitespace(name) ~ ")), '')",
        ]) }}
    end
{%- endmacro %}

