{#
    Null-safe equality for an equality join on a nullable key (the supplier columns
    of int_supplier_identities): equal, or both NULL, and still a hash join.
#}
{% macro null_safe_equal(left, right) -%}
    {{ return(adapter.dispatch('null_safe_equal', 'samkjop')(left, right)) }}
{%- endmacro %}

{% macro default__null_safe_equal(left, right) -%}
    {{ left }} is not distinct from {{ right }}
{%- endmacro %}

{% macro spark__null_safe_equal(left, right) -%}
    {{ left }} <=> {{ right }}
{%- endmacro %}


{#
    Equal (null-safe) values of `columns` in the relations `left` and `right`: a join
    condition on a grouping key of several columns, some nullable (department).
#}
{% macro same_values(left, right, columns) -%}
    {%- for column in columns -%}
        {{ ' and ' if not loop.first }}{{ samkjop.null_safe_equal(left ~ '.' ~ column, right ~ '.' ~ column) }}
    {%- endfor -%}
{%- endmacro %}
