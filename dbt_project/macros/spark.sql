{#
    Spark (dbt-spark) variants of dbt's own macros where dbt-spark's give other
    results than DuckDB's, without an error. dbt_project.yml's `dispatch` makes dbt
    look for dbt's macros in this project first (search_order: samkjop, dbt).
#}


{#
    dbt.listagg with its `order by`: dbt-spark's spark__listagg warns and ignores it,
    so a list came out in whatever order the shuffle left it. Here the (key, value)
    pairs are collected, sorted by the key and the values joined: one key expression,
    `asc` or `desc`; `distinct <expression>` as the measure too. NULL values are left
    out, as string_agg does.
#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set re = modules.re -%}
    {%- set is_distinct = re.match('(?is)^\\s*distinct\\s+', measure) is not none -%}
    {%- set value = re.sub('(?is)^\\s*distinct\\s+', '', measure) -%}
    {%- if order_by_clause -%}
        {%- set key = re.sub('(?is)^\\s*order\\s+by\\s+', '', order_by_clause) | trim -%}
        {%- set descending = re.search('(?i)\\s+desc$', key) is not none -%}
        {%- set key = re.sub('(?i)\\s+(asc|desc)$', '', key) -%}
        {%- set pairs -%}
            collect_list({{ 'distinct ' if is_distinct }}named_struct('k', {{ key }}, 'v', {{ value }}))
        {%- endset -%}
        {%- set sorted = 'array_sort(' ~ pairs ~ ')' -%}
        {%- set sorted = 'reverse(' ~ sorted ~ ')' if descending else sorted -%}
        {%- set collected = 'transform(' ~ sorted ~ ', pair -> pair.v)' -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}


{#
    A text inside a Spark string literal: dbt-spark escapes the quote only, and Spark
    reads a backslash as an escape, so the expected rows of a unit test lost theirs
    ('redacted\s+personal' came out as 'redacteds+personal'). Backslashes doubled too,
    as sql_string_literal does.
#}
{% macro spark__escape_single_quotes(expression) -%}
    {{ expression | replace("\\", "\\\\") | replace("'", "\\'") }}
{%- endmacro %}


{#
    Seed rows as literals. dbt-spark's session connection formats each binding with
    Python's str(): an empty cell (None) became the text 'None' and a quote in a cell
    broke the statement. Here an empty cell is NULL and every other cell a quoted
    literal (sql_string_literal) cast to the column's type.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set batch_size = get_batch_size() %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set column_types = [] %}
    {% for column_name in agate_table.column_names %}
        {% do column_types.append(
            column_override.get(column_name, adapter.convert_type(agate_table, loop.index0))
        ) %}
    {% endfor %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(batch_size) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for cell in row -%}
                    {%- if cell is none -%}
                        cast(null as {{ column_types[loop.index0] }})
                    {%- else -%}
                        cast({{ samkjop.sql_string_literal(cell | string) }} as {{ column_types[loop.index0] }})
                    {%- endif -%}
                    {{ ', ' if not loop.last }}
                {%- endfor -%}){{ ',' if not loop.last }}
            {% endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% if loop.first %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}


{#
    `samkjop spark-build` (pipelines/spark_engine.py): the raw tables, written as
    Parquet by DuckDB, registered in the Spark catalog as tables of schema `raw` over
    their folders. `tables` maps a table name to its folder.
#}
{% macro register_parquet_tables(schema, tables) %}
    {% do run_query('create schema if not exists ' ~ schema) %}
    {% for name, location in tables.items() %}
        {% do run_query('drop table if exists ' ~ schema ~ '.' ~ name) %}
        {% do run_query(
            'create table ' ~ schema ~ '.' ~ name ~ ' using parquet location '
            ~ samkjop.sql_string_literal(location)
        ) %}
    {% endfor %}
    {{ log('registered ' ~ (tables | length) ~ ' tables in schema ' ~ schema, info=true) }}
{% endmacro %}
