with

source as (

    select * from {{ source('raw', 'agreement_categories') }}

),

renamed as (

    select
        agreement_id,
        category_id

    from source

)

select * from renamed
