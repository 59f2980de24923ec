with

source as (

    select * from {{ source('raw', 'supplier_register') }}

),

renamed as (

    select
        supplier_id,
        supplier_name,
        org_no_raw,
        org_no,
        is_org_no_valid,
        alias_type,
        alias,
        municipality_id,
        source_file,
        source_row,
        is_person

    from source

)

select * from renamed
