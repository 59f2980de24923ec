{#
    Join condition for a nullable grouping column (department): equal, or both NULL.
#}
{% macro equal_or_both_null(left, right) -%}
    ({{ left }} = {{ right }} or ({{ left }} is null and {{ right }} is null))
{%- endmacro %}
