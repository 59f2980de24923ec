{#
    fct_spend_lines is incremental by delivery on DuckDB: a build adds the
    lines of the deliveries the table does not hold yet and first removes those
    of deliveries that are no longer loaded (replaced by a correction, or gone).
    That equals a full rebuild while the rules' reference data, the settings
    and the code are unchanged; pipelines/incremental.py makes the build a
    full refresh whenever one of them changed. Other engines build the table
    in full every time.

    Both steps are decided on the deliveries (a few hundred rows), never by
    joining millions of lines: the new deliveries' ids are looked up first and
    filter the lines as a list of values, which DuckDB applies where it reads
    them.
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

{#- As a pre-hook: delete the rows of deliveries that a correction replaced or
    that are no longer recorded (a rejected delivery tried again). -#}
{% macro forget_deliveries_no_longer_loaded() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as held
        where
            exists (
                select 1
                from {{ ref('stg_raw__delivery_replacements') }} as replaced
                where replaced.delivery_id = held.delivery_id
            )
            or not exists (
                select 1
                from {{ ref('stg_raw__deliveries') }} as recorded
                where recorded.delivery_id = held.delivery_id
            )
    {%- endif -%}
{%- endmacro %}

{#- A condition (after `where ...`) keeping only the lines, `lines_alias`, of
    recorded, unreplaced deliveries the model does not hold yet; nothing on a
    full build. -#}
{% macro new_deliveries_only(lines_alias) -%}
    {%- if is_incremental() and execute -%}
        {%- set new_deliveries = run_query(
            "select recorded.delivery_id from " ~ ref('stg_raw__deliveries') ~ " as recorded"
            ~ " where not exists (select 1 from " ~ ref('stg_raw__delivery_replacements')
            ~ " as replaced where replaced.delivery_id = recorded.delivery_id)"
            ~ " and not exists (select 1 from (select distinct delivery_id from " ~ this
            ~ ") as held where held.delivery_id = recorded.delivery_id)"
            ~ " order by recorded.delivery_id"
        ).columns[0].values() -%}
        and {{ lines_alias }}.delivery_id in ({{ sql_text_list(new_deliveries) }})
    {%- endif -%}
{%- endmacro %}


{#- For the models keyed by rule key (int_spend_lines_classified,
    int_spend_lines_matched), incremental on DuckDB beside fct_spend_lines: a
    key's results depend on the key and the rules alone, so a build adds the keys
    of the lines loaded since the last build and keeps the others. A condition
    (after `where ...`) on `line_key`, a spend_line_key: above the highest
    max_spend_line_key the model holds (a spend_line_key grows with every
    delivery: pipelines/warehouse.py), looked up first and applied as a value
    where the lines are read. Nothing on a full build or while the model is empty.
    Keys whose lines were all replaced stay: every reader joins the lines to the
    keys, never the other way round. -#}
{% macro loaded_since_last_build(line_key) -%}
    {%- set held = highest_line_key_held() -%}
    {%- if held is not none %}
        and {{ line_key }} > {{ held }}
    {%- endif -%}
{%- endmacro %}

{#- The highest max_spend_line_key the incremental model holds; none on a full build
    or while it is empty. -#}
{% macro highest_line_key_held() -%}
    {%- if is_incremental() and execute -%}
        {{ return(run_query(
            "select max(max_spend_line_key) from " ~ this
        ).columns[0].values()[0]) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- For a model whose rows each belong to one member and are computed from that
    member's lines alone (int_invoice_pairs_proposed), incremental on DuckDB by
    member: a build recomputes the members with lines loaded since the last one
    (stg_raw__spend_lines above the highest max_spend_line_key held; a
    correction that replaces a delivery is itself such lines) and keeps the rows
    of the others. Its pre-hook removes the rows it recomputes; none: every row. -#}
{% macro members_with_new_lines() -%}
    {%- set held = highest_line_key_held() -%}
    {%- if held is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(run_query(
        "select distinct municipality_id from " ~ ref('stg_raw__spend_lines')
        ~ " where spend_line_key > " ~ held ~ " order by municipality_id"
    ).columns[0].values() | list) }}
{%- endmacro %}

{#- A condition (after `where ...`) keeping the lines, `lines_alias`, of the members
    with new lines; nothing on a full build. -#}
{% macro of_members_with_new_lines(lines_alias) -%}
    {%- set members = members_with_new_lines() -%}
    {%- if members is not none %}
        and {{ lines_alias }}.municipality_id in ({{ sql_text_list(members) }})
    {%- endif -%}
{%- endmacro %}

{#- As a pre-hook: delete the rows of the members that the build recomputes. -#}
{% macro forget_members_with_new_lines() -%}
    {%- if is_incremental() -%}
        {%- set members = members_with_new_lines() -%}
        delete from {{ this }}
        {%- if members is not none %}
        where municipality_id in ({{ sql_text_list(members) }})
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- Text values as a SQL list's items (quotes doubled); `null` for none, so that
    `in (...)` keeps nothing. -#}
{% macro sql_text_list(values) -%}
    {%- for value in values -%}
        '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
    {%- else -%}
        null
    {%- endfor -%}
{%- endmacro %}
