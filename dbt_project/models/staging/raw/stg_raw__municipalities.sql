with

source as (

    select * from {{ source('raw', 'municipalities') }}

),

renamed as (

    select
        municipality_id,
        municipality_name,
        population,
        is_host

    from source

)

select * from renamed
