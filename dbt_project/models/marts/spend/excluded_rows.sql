-- Every delivered row that a source profile's exclude_rows left out on purpose
-- (income, balance-sheet postings ...): not spend, so in no figure, but never
-- lost. With the profile's reason, the row as delivered and its net amount in the
-- file's own currency. The rows of a replaced delivery leave with it.

with

replaced_deliveries as (

    select delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

excluded_rows as (

    select * from {{ ref('stg_raw__excluded_rows') }}

),

final as (

    select
        excluded_rows.delivery_id,
        excluded_rows.municipality_id,
        excluded_rows.source_file,
        excluded_rows.source_row,
        excluded_rows.reason,
        excluded_rows.raw_row,
        excluded_rows.amount_excl_vat,
        excluded_rows.excluded_at

    from excluded_rows

    left join replaced_deliveries
        on excluded_rows.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

)

select * from final
