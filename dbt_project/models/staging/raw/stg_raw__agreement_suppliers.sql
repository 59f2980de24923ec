with

source as (

    select * from {{ source('raw', 'agreement_suppliers') }}

),

renamed as (

    select
        agreement_id,
        supplier_org_no_raw,
        supplier_org_no,
        is_supplier_org_no_valid

    from source

)

select * from renamed
