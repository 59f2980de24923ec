with

source as (

    select * from {{ source('raw', 'agreements') }}

),

renamed as (

    select
        agreement_id,
        agreement_name,
        scope,
        valid_from,
        valid_to,
        provision_rate,
        estimated_annual_volume,
        source_file,
        source_row

    from source

)

select * from renamed
