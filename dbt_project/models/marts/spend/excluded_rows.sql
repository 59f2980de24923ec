-- Every delivered row that a source profile's exclude_rows left out on purpose
-- (income, balance-sheet postings ...): not spend, so in no figure, but never
-- lost. With the profile's reason, the row as delivered and its net amount in the
-- file's own currency, where it is in the file (source_line) and the file's
-- checksum. The rows of a replaced delivery leave with it.

with

replaced_deliveries as (

    select delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

excluded_rows as (

    select * from {{ ref('stg_raw__excluded_rows') }}

),

-- the checksum of the file each row came from, to prove which file it was
deliveries as (

    select
        delivery_id,
        file_sha256

    from {{ ref('stg_raw__deliveries') }}

),

final as (

    select
        excluded_rows.delivery_id,
        excluded_rows.municipality_id,
        excluded_rows.source_file,
        excluded_rows.source_row,
        excluded_rows.source_line,
        excluded_rows.reason,
        excluded_rows.raw_row,
        excluded_rows.amount_excl_vat,
        excluded_rows.excluded_at,
        deliveries.file_sha256

    from excluded_rows

    left join replaced_deliveries
        on excluded_rows.delivery_id = replaced_deliveries.delivery_id

    left join deliveries
        on excluded_rows.delivery_id = deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

)

select * from final
