with

source as (

    select * from {{ source('raw', 'agreement_participants') }}

),

renamed as (

    select
        agreement_id,
        municipality_id,
        municipality_id = '*' as is_all_members

    from source

)

select * from renamed
