with

source as (

    select * from {{ source('raw', 'delivery_replacements') }}

),

renamed as (

    select
        delivery_id,
        replaced_by as replaced_by_delivery_id,
        replaced_at,
        reason as replacement_reason

    from source

)

select * from renamed
