{#
    DuckDB builds a hash join's table on the side it estimates cheaper, from
    cardinality estimates that take each filter as keeping a fifth of the rows.
    Lines that pass two filters (not replaced, with an exchange rate) are
    estimated at a twenty-fifth of their number, so fct_spend_lines' join of the
    lines to the keyed rule results built its hash table on the millions of wide
    lines (spilling at 5 M lines) instead of on the results, whose rows are few
    and narrow. As a pre-hook, build_joins_on_the_right() makes DuckDB build each
    join of the model on its right side as the model writes it (the optimizer
    that swaps them is off); as a post-hook, build_joins_on_the_right(false)
    restores the default. The setting is global to the DuckDB instance: dbt runs
    one model at a time (threads: 1). Other engines: nothing (Spark chooses its
    join strategy from its own statistics).
#}
{% macro build_joins_on_the_right(enabled=true) -%}
    {{ return(adapter.dispatch('build_joins_on_the_right', 'samkjop')(enabled)) }}
{%- endmacro %}

{% macro default__build_joins_on_the_right(enabled) -%}
{%- endmacro %}

{% macro duckdb__build_joins_on_the_right(enabled) -%}
    {%- if enabled -%}
        set disabled_optimizers = 'build_side_probe_side'
    {%- else -%}
        reset disabled_optimizers
    {%- endif -%}
{%- endmacro %}
