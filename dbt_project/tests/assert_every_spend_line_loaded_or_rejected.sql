{{ config(meta={'dagster': {'ref': {'name': 'fct_spend_lines'}}}) }}

-- Nothing is dropped silently: every raw spend line of a delivery that is not
-- replaced is either in fct_spend_lines or in rejected_rows (no exchange rate),
-- never both.

with

replaced_deliveries as (

    select delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

raw_lines as (

    select spend_line_id from {{ ref('stg_raw__spend_lines') }}
    where delivery_id not in (select replaced_deliveries.delivery_id from replaced_deliveries)

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
        raw_lines.spend_line_id,
        count(accounted.spend_line_id) as times_accounted

    from raw_lines

    left join accounted
        on raw_lines.spend_line_id = accounted.spend_line_id

    group by raw_lines.spend_line_id

)

select * from counted

where times_accounted <> 1
