{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_lines'}}}) }}

-- Nothing is dropped silently. Fails with one row per problem:
-- (1) per delivery, every row the loader read is in exactly one raw table:
--     spend_lines (loaded), excluded_rows (a source profile's exclude_rows) or
--     rejected_rows, so rows_read = loaded + excluded + rejected;
-- (2) every raw spend line of a delivery that is not replaced is either in
--     fct_spend_lines or in rejected_rows (no exchange rate), never both.
-- Lines are compared by their integer spend_line_key (a rate rejection's key is
-- its delivery's key base + source_row: assert_spend_line_keys_follow_their_lineage),
-- not by the text spend_line_id: no join of millions of texts.

with

deliveries as (

    select
        delivery_id,
        rows_read

    from {{ ref('stg_raw__deliveries') }}

),

replaced_deliveries as (

    select delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

-- (1) ------------------------------------------------------------------------

-- each raw table counted per delivery on its own: a few groups, never a
-- union of every line
loaded_rows as (

    select
        delivery_id,
        count(*) as row_count

    from {{ ref('stg_raw__spend_lines') }}

    group by delivery_id

),

excluded_rows as (

    select
        delivery_id,
        count(*) as row_count

    from {{ ref('stg_raw__excluded_rows') }}

    group by delivery_id

),

rejected_rows as (

    select
        delivery_id,
        count(*) as row_count

    from {{ ref('stg_raw__rejected_rows') }}

    where delivery_id is not null

    group by delivery_id

),

rows_per_delivery as (

    select
        delivery_id,
        sum(row_count) as row_count

    from (
        select * from loaded_rows
        union all
        select * from excluded_rows
        union all
        select * from rejected_rows
    ) as counts

    group by delivery_id

),

unaccounted_deliveries as (

    select
        coalesce(deliveries.delivery_id, rows_per_delivery.delivery_id) as checked_id,
        {{ dbt.concat([
            "'rows read '",
            "coalesce(cast(deliveries.rows_read as " ~ dbt.type_string() ~ "), 'unrecorded')",
            "' but loaded + excluded + rejected '",
            "cast(coalesce(rows_per_delivery.row_count, 0) as " ~ dbt.type_string() ~ ")",
        ]) }} as problem

    from deliveries

    full outer join rows_per_delivery
        on deliveries.delivery_id = rows_per_delivery.delivery_id

    where
        deliveries.delivery_id is null
        or deliveries.rows_read <> coalesce(rows_per_delivery.row_count, 0)

),

-- (2) ------------------------------------------------------------------------

-- each delivery's key base (spend_line_key - source_row), grouped by the integer
key_bases as (

    select
        spend_line_key - source_row as key_base,
        min(delivery_id) as delivery_id

    from {{ ref('stg_raw__spend_lines') }}

    group by spend_line_key - source_row

),

current_lines as (

    select
        lines.spend_line_key,
        lines.source_row

    from {{ ref('stg_raw__spend_lines') }} as lines

    left join replaced_deliveries
        on lines.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

),

rate_rejections as (

    select key_bases.key_base + rejected.source_row as spend_line_key

    from {{ ref('rejected_rows') }} as rejected

    inner join key_bases
        on rejected.delivery_id = key_bases.delivery_id

    where rejected.rejected_by = 'exchange_rate'

),

-- every current line and every line accounted for, once per appearance, counted
-- per integer key in one aggregation (it spills to disk when it must), never a
-- join of the lines with the lines: memory stays bounded at any size
line_appearances as (

    select
        spend_line_key,
        source_row,
        1 as is_current,
        0 as is_accounted

    from current_lines

    union all

    select
        spend_line_key,
        null as source_row,
        0 as is_current,
        1 as is_accounted

    from {{ ref('fct_spend_lines') }}

    union all

    select
        spend_line_key,
        null as source_row,
        0 as is_current,
        1 as is_accounted

    from rate_rejections

),

counted as (

    select
        spend_line_key,
        min(source_row) as source_row,
        sum(is_current) as times_current,
        sum(is_accounted) as times_accounted

    from line_appearances

    group by spend_line_key

),

-- a current line that is not accounted for exactly once (as before: a line of a
-- replaced delivery is not a current line and not checked here)
unaccounted_lines as (

    select
        {{ dbt.concat([
            'key_bases.delivery_id',
            "'-'",
            'cast(counted.source_row as ' ~ dbt.type_string() ~ ')',
        ]) }} as checked_id,
        {{ dbt.concat([
            "'spend line in fct_spend_lines or rejected_rows '",
            "cast(counted.times_current * counted.times_accounted as " ~ dbt.type_string() ~ ")",
            "' times'",
        ]) }} as problem

    from counted

    left join key_bases
        on counted.spend_line_key - counted.source_row = key_bases.key_base

    where
        counted.times_current > 0
        and counted.times_current * counted.times_accounted <> 1

)

select * from unaccounted_deliveries

union all

select * from unaccounted_lines
