with

source as (

    select * from {{ source('raw', 'cooperation') }}

),

renamed as (

    select
        cooperation_name,
        country,
        currency,
        host_municipality_id,
        loyalty_target,
        coverage_target

    from source

)

select * from renamed
