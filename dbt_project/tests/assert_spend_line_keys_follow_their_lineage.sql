{{ config(meta={'dagster': {'ref': {'name': 'stg_raw__spend_lines'}}}) }}

-- The loader gives each line spend_line_key = its delivery's number * 2^32 +
-- source_row (pipelines/warehouse.py), so spend_line_key - source_row, the key
-- base, is one per delivery and names one delivery. Together with spend_line_key
-- unique (its data test, on an integer: cheap), this makes the lineage
-- spend_line_id = delivery_id || '-' || source_row unique too, without comparing
-- millions of texts. Fails with one row per problem; it groups the lines by an
-- integer, and only the few key bases by delivery.

with

lines as (

    select
        delivery_id,
        spend_line_key - source_row as key_base

    from {{ ref('stg_raw__spend_lines') }}

),

key_bases as (

    select
        key_base,
        min(delivery_id) as first_delivery_id,
        max(delivery_id) as last_delivery_id

    from lines

    group by key_base

),

shared_key_bases as (

    select
        cast(key_base as {{ dbt.type_string() }}) as checked_id,
        {{ dbt.concat([
            "'one key base for deliveries '",
            'first_delivery_id',
            "' and '",
            'last_delivery_id',
        ]) }} as problem

    from key_bases

    where first_delivery_id <> last_delivery_id

),

deliveries_with_several_bases as (

    select
        first_delivery_id as checked_id,
        {{ dbt.concat([
            "'the lines of one delivery have '",
            'cast(count(*) as ' ~ dbt.type_string() ~ ')',
            "' key bases'",
        ]) }} as problem

    from key_bases

    group by first_delivery_id

    having count(*) > 1

)

select * from shared_key_bases

union all

select * from deliveries_with_several_bases
