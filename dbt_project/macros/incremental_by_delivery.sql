{#
    fct_spend_lines is incremental by delivery on DuckDB: a build adds the
    lines of the deliveries the table does not hold yet and first removes those
    of deliveries that are no longer loaded (replaced by a correction, or gone).
    That equals a full rebuild while the rules' reference data, the settings
    and the code are unchanged; pipelines/incremental.py makes the build a
    full refresh whenever one of them changed. Other engines build the table
    in full every time.
#}
{% macro line_model_materialization() -%}
    {{ return(adapter.dispatch('line_model_materialization', 'samkjop')()) }}
{%- endmacro %}

{% macro default__line_model_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{% macro duckdb__line_model_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{#- As a pre-hook: delete the rows of the deliveries that are not among the
    delivery_ids of `current_lines` (a relation or a subquery) any more. -#}
{% macro forget_deliveries_no_longer_loaded(current_lines) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as held
        where not exists (
            select 1
            from (select distinct delivery_id from {{ current_lines }}) as current_deliveries
            where current_deliveries.delivery_id = held.delivery_id
        )
    {%- endif -%}
{%- endmacro %}

{#- A condition (after `where ...`) keeping only the lines, `lines_alias`, of
    deliveries the model does not hold yet; nothing on a full build. -#}
{% macro new_deliveries_only(lines_alias) -%}
    {%- if is_incremental() %}
        and not exists (
            select 1
            from (select distinct delivery_id from {{ this }}) as held
            where held.delivery_id = {{ lines_alias }}.delivery_id
        )
    {%- endif -%}
{%- endmacro %}
