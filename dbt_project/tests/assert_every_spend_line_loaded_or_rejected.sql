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

raw_lines as (

    select
        spend_line_key,
        delivery_id,
        source_row

    from {{ ref('stg_raw__spend_lines') }}

),

-- (1) ------------------------------------------------------------------------

delivered_rows as (

    select delivery_id from raw_lines

    union all

    select delivery_id from {{ ref('stg_raw__excluded_rows') }}

    union all

    select delivery_id from {{ ref('stg_raw__rejected_rows') }}
    where delivery_id is not null

),

rows_per_delivery as (

    select
        delivery_id,
        count(*) as row_count

    from delivered_rows

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

current_lines as (

    select
        raw_lines.spend_line_key,
        raw_lines.source_row

    from raw_lines

    left join replaced_deliveries
        on raw_lines.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

),

loaded as (

    select spend_line_key from {{ ref('fct_spend_lines') }}

),

-- each delivery's key base (spend_line_key - source_row), grouped by the integer
line_key_bases as (

    select
        delivery_id,
        spend_line_key - source_row as key_base

    from raw_lines

),

key_bases as (

    select
        key_base,
        min(delivery_id) as delivery_id

    from line_key_bases

    group by key_base

),

rate_rejections as (

    select key_bases.key_base + rejected.source_row as spend_line_key

    from {{ ref('rejected_rows') }} as rejected

    inner join key_bases
        on rejected.delivery_id = key_bases.delivery_id

    where rejected.rejected_by = 'exchange_rate'

),

accounted as (

    select spend_line_key from loaded

    union all

    select spend_line_key from rate_rejections

),

-- grouped by the integer key alone; the lineage text only for a line that fails
counted as (

    select
        current_lines.spend_line_key,
        min(current_lines.source_row) as source_row,
        count(accounted.spend_line_key) as times_accounted

    from current_lines

    left join accounted
        on current_lines.spend_line_key = accounted.spend_line_key

    group by current_lines.spend_line_key

),

unaccounted_lines as (

    select
        {{ dbt.concat([
            'key_bases.delivery_id',
            "'-'",
            'cast(counted.source_row as ' ~ dbt.type_string() ~ ')',
        ]) }} as checked_id,
        {{ dbt.concat([
            "'spend line in fct_spend_lines or rejected_rows '",
            "cast(counted.times_accounted as " ~ dbt.type_string() ~ ")",
            "' times'",
        ]) }} as problem

    from counted

    left join key_bases
        on counted.spend_line_key - counted.source_row = key_bases.key_base

    where counted.times_accounted <> 1

)

select * from unaccounted_deliveries

union all

select * from unaccounted_lines
