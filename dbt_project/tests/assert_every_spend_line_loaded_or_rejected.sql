{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_lines'}}}) }}

-- Nothing is dropped silently. Fails with one row per problem:
-- (1) per delivery, every row the loader read is in exactly one raw table:
--     spend_lines (loaded), excluded_rows (a source profile's exclude_rows) or
--     rejected_rows, so rows_read = loaded + excluded + rejected;
-- (2) every raw spend line of a delivery that is not replaced is either in
--     fct_spend_lines or in rejected_rows (no exchange rate), never both.

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
        spend_line_id,
        delivery_id

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

    select raw_lines.spend_line_id

    from raw_lines

    left join replaced_deliveries
        on raw_lines.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

),

loaded as (

    select spend_line_id from {{ ref('fct_spend_lines') }}

),

rate_rejections as (

    select
        {{ dbt.concat([
            'delivery_id',
            "'-'",
            'cast(source_row as ' ~ dbt.type_string() ~ ')',
        ]) }} as spend_line_id

    from {{ ref('rejected_rows') }}

    where rejected_by = 'exchange_rate'

),

accounted as (

    select spend_line_id from loaded

    union all

    select spend_line_id from rate_rejections

),

counted as (

    select
        current_lines.spend_line_id,
        count(accounted.spend_line_id) as times_accounted

    from current_lines

    left join accounted
        on current_lines.spend_line_id = accounted.spend_line_id

    group by current_lines.spend_line_id

),

unaccounted_lines as (

    select
        spend_line_id as checked_id,
        {{ dbt.concat([
            "'spend line in fct_spend_lines or rejected_rows '",
            "cast(times_accounted as " ~ dbt.type_string() ~ ")",
            "' times'",
        ]) }} as problem

    from counted

    where times_accounted <> 1

)

select * from unaccounted_deliveries

union all

select * from unaccounted_lines
