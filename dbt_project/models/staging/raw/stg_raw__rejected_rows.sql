with

source as (

    select * from {{ source('raw', 'rejected_rows') }}

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
        rejected_at

    from source

)

select * from renamed
