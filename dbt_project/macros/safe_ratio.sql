{#
    Rule 7: a ratio whose denominator is 0 is undefined (NULL), never 0 or 100 %.
    Returns a double-precision fraction (0.8, not 80).
#}
{% macro safe_ratio(numerator, denominator) -%}
    case
        when {{ denominator }} = 0 then null
        else cast({{ numerator }} as {{ samkjop.type_double() }})
            / cast({{ denominator }} as {{ samkjop.type_double() }})
    end
{%- endmacro %}


{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'samkjop')()) }}
{%- endmacro %}

{# `double` in DuckDB, Spark and Snowflake; Postgres spells it `double precision`. #}
{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro bigquery__type_double() -%}
    float64
{%- endmacro %}
