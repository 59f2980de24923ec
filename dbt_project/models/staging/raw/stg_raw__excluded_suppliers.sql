with

source as (

    select * from {{ source('raw', 'excluded_suppliers') }}

),

renamed as (

    select
        supplier_org_no_raw,
        supplier_org_no,
        reason as exclusion_reason

    from source

)

select * from renamed
