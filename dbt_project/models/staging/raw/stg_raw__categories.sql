with

source as (

    select * from {{ source('raw', 'taxonomy') }}

),

renamed as (

    select
        category_id,
        category_name,
        parent_id as parent_category_id

    from source

)

select * from renamed
