with

source as (

    select * from {{ source('raw', 'deliveries') }}

),

renamed as (

    select
        delivery_id,
        municipality_id,
        source_file,
        file_sha256,
        profile,
        status,
        message,
        rows_read,
        rows_loaded,
        rows_rejected,
        rows_excluded,
        amount_loaded,
        first_invoice_date,
        last_invoice_date,
        series as delivery_series,
        period as delivery_period,
        loaded_at

    from source

)

select * from renamed
