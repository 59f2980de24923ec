with

source as (

    select * from {{ source('raw', 'excluded_rows') }}

),

renamed as (

    select
        delivery_id,
        municipality_id,
        source_file,
        source_row,
        source_line,
        reason,
        raw_row,
        amount_excl_vat,
        excluded_at

    from source

)

select * from renamed
