with

source as (

    select * from {{ source('raw', 'price_list') }}

),

renamed as (

    select
        agreement_id,
        supplier_org_no_raw,
        supplier_org_no,
        item_id,
        unit_price,
        currency,
        valid_from,
        valid_to,
        source_file,
        source_row

    from source

)

select * from renamed
