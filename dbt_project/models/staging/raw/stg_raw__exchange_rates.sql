with

source as (

    select * from {{ source('raw', 'exchange_rates') }}

),

renamed as (

    select
        currency,
        month as rate_month,
        cast({{ dbt.concat(['month', "'-01'"]) }} as date) as month_start,
        rate_to_base

    from source

)

select * from renamed
