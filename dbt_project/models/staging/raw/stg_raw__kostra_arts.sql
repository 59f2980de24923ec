with

source as (

    select * from {{ source('raw', 'kostra_arts') }}

),

renamed as (

    select
        art,
        art_name,
        is_influenceable

    from source

)

select * from renamed
