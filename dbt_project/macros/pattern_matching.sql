{#
    Case-insensitive regular-expression match of a column against a pattern
    from the cooperation's configuration (e.g. var `catch_all_payees`). The
    pattern is inlined as a string literal; pipelines/settings.py has checked it
    with Python's `re`, but it runs in the engine's own regex dialect (RE2 in
    DuckDB and BigQuery, Java in Spark, POSIX in Postgres): keep patterns to the
    common subset (no look-arounds or back-references).
#}
{% macro matches_pattern_ignoring_case(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern_ignoring_case', 'samkjop')(expression, pattern)) }}
{%- endmacro %}

{# No portable case-insensitive regular-expression match: each engine has its variant. #}
{% macro default__matches_pattern_ignoring_case(expression, pattern) -%}
    {{ exceptions.raise_compiler_error(
        "matches_pattern_ignoring_case (dbt_project/macros/pattern_matching.sql) has no "
        ~ "variant for the adapter '" ~ adapter.type() ~ "': add one"
    ) }}
{%- endmacro %}

{% macro postgres__matches_pattern_ignoring_case(expression, pattern) -%}
    ({{ expression }} ~* {{ samkjop.sql_string_literal(pattern) }})
{%- endmacro %}

{% macro duckdb__matches_pattern_ignoring_case(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ samkjop.sql_string_literal('(?i)' ~ pattern) }})
{%- endmacro %}

{% macro spark__matches_pattern_ignoring_case(expression, pattern) -%}
    ({{ expression }} rlike {{ samkjop.sql_string_literal('(?i)' ~ pattern) }})
{%- endmacro %}

{% macro snowflake__matches_pattern_ignoring_case(expression, pattern) -%}
    regexp_like({{ expression }}, {{ samkjop.sql_string_literal(pattern) }}, 'i')
{%- endmacro %}

{% macro bigquery__matches_pattern_ignoring_case(expression, pattern) -%}
    regexp_contains({{ expression }}, {{ samkjop.sql_string_literal('(?i)' ~ pattern) }})
{%- endmacro %}


{#
    A text from the configuration as an SQL string literal: quotes doubled; in
    engines where a backslash escapes inside a literal, backslashes doubled too.
#}
{% macro sql_string_literal(text) -%}
    {{ return(adapter.dispatch('sql_string_literal', 'samkjop')(text)) }}
{%- endmacro %}

{% macro default__sql_string_literal(text) -%}
    '{{ text | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__sql_string_literal(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro bigquery__sql_string_literal(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro snowflake__sql_string_literal(text) -%}
    '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
