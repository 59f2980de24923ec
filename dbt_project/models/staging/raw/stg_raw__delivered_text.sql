with

source as (

    select * from {{ source('raw', 'delivered_text') }}

),

renamed as (

    select
        delivery_id,
        source_row,
        source_line,
        delivered_text

    from source

)

select * from renamed
