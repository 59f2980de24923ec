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

{#
    Whitespace is \s and the Unicode spaces (no-break, en/em spaces, narrow no-break,
    ideographic): DuckDB's RE2 and Java's (Spark) \s are ASCII only. The pattern is
    written once and quoted per engine (sql_string_literal: Spark reads a backslash in
    a literal as an escape); regexp_replace_all replaces every run (DuckDB needs 'g').
#}
{% macro default__collapse_whitespace(expression) -%}
    {{ samkjop.regexp_replace_all(
        expression,
        samkjop.sql_string_literal('[\\s\\x{00a0}\\x{2000}-\\x{200a}\\x{202f}\\x{205f}\\x{3000}]+'),
        "' '",
    ) }}
{%- endmacro %}

{% macro postgres__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, '\s+', ' ', 'g')
{%- endmacro %}

{% macro snowflake__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, '\\s+', ' ')
{%- endmacro %}

{% macro bigquery__collapse_whitespace(expression) -%}
    regexp_replace({{ expression }}, r'\s+', ' ')
{%- endmacro %}
