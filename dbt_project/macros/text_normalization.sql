{#
    Item classification codes (CPV, UNSPSC) are compared without spaces and
    without a "-check digit" suffix: "3019 2000-1" -> "30192000".
#}
{% macro normalize_item_code(expression) -%}
    nullif({{ dbt.split_part(dbt.replace(expression, "' '", "''"), "'-'", 1) }}, '')
{%- endmacro %}


{#
    Runs of whitespace become one space. (Supplier names as keys fold whitespace,
    Unicode spaces too, with the rest of their punctuation: normalize_supplier_name.)
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
