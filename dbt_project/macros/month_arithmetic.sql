{#
    Month arithmetic for month spines (threshold_flags), with dbt's
    cross-database macros: add_months gives the date `months` calendar months
    after `date_expression` (a first-of-month date); month_end the last day of
    its month. Both return a date.
#}
{% macro add_months(months, date_expression) -%}
    cast({{ dbt.dateadd('month', months, date_expression) }} as date)
{%- endmacro %}


{% macro month_end(date_expression) -%}
    {{ dbt.last_day(date_expression, 'month') }}
{%- endmacro %}
