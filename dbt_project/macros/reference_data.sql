{#
    The relation a staging model reads for a reference dataset (taxonomy,
    classification_rules, kostra_arts, emission_factors): the shipped seed of
    the same name, or raw.<dataset> when the cooperation configured its own file
    (var `reference_overrides`, passed by pipelines/defs/transform/dbt.py).
    Both ref() and source() are called so that the DAG always has both edges,
    whatever the var is when the project is parsed.
#}
{% macro reference_data(dataset) -%}
    {%- set shipped_default = ref(dataset) -%}
    {%- set configured_file = source('raw', dataset) -%}
    {%- if dataset in var('reference_overrides', []) -%}
        {{ return(configured_file) }}
    {%- else -%}
        {{ return(shipped_default) }}
    {%- endif -%}
{%- endmacro %}
