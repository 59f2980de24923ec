-- Every delivered row that is not in fct_spend_lines, with its reason: the rows
-- the loaders rejected, and the loaded lines in a foreign currency that have no
-- exchange rate for their invoice month. raw_row is the row as delivered, as the
-- loader kept it (raw_row_is_delivered); only a line without a rate that was loaded
-- before the loader kept delivered texts (raw.delivered_text) has a rendering of its
-- loaded fields instead.

with

replaced_deliveries as (

    select distinct delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

-- a row of a replaced delivery leaves with it (an anti-join: portable, unlike
-- NOT IN (subquery)); a row rejected before any delivery was recorded stays
loader_rejections as (

    select rejected.*

    from {{ ref('stg_raw__rejected_rows') }} as rejected

    left join replaced_deliveries
        on rejected.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

),

spend_lines as (

    select * from {{ ref('int_spend_lines_converted') }}

),

-- the lines without a rate, with a rendering of their loaded fields: their raw_row
-- when the loader kept no delivered text (a line loaded before it did)
unrated_lines as (

    select
        delivery_id,
        municipality_id,
        source_file,
        source_row,
        source_line,
        rejection_reason,
        loaded_at,
        {{ dbt.concat([
            "'invoice_id='", "coalesce(invoice_id, '')",
            "'; line_no='", "coalesce(line_no, '')",
            "'; invoice_date='", "cast(invoice_date as " ~ dbt.type_string() ~ ")",
            "'; supplier_org_no='", "coalesce(supplier_org_no_raw, '')",
            "'; supplier_name='", "coalesce(supplier_name, '')",
            "'; account='", "coalesce(account, '')",
            "'; art='", "coalesce(art, '')",
            "'; amount_excl_vat='", "cast(amount_excl_vat as " ~ dbt.type_string() ~ ")",
            "'; currency='", "currency",
            "'; item_code='", "coalesce(item_code, '')",
            "'; description='", "coalesce(description, '')",
        ]) }} as rendered_row

    from spend_lines

    where not has_exchange_rate

),

-- the loader keeps the delivered text of every line in a foreign currency
delivered_text as (

    select * from {{ ref('stg_raw__delivered_text') }}

),

exchange_rate_rejections as (

    select
        unrated_lines.delivery_id,
        unrated_lines.municipality_id,
        unrated_lines.source_file,
        unrated_lines.source_row,
        unrated_lines.source_line,
        unrated_lines.rejection_reason as reason,
        coalesce(delivered_text.delivered_text, unrated_lines.rendered_row) as raw_row,
        delivered_text.delivered_text is not null as raw_row_is_delivered,
        unrated_lines.loaded_at as rejected_at,
        'exchange_rate' as rejected_by

    from unrated_lines

    left join delivered_text
        on
            unrated_lines.delivery_id = delivered_text.delivery_id
            and unrated_lines.source_row = delivered_text.source_row

),

unioned as (

    select
        delivery_id,
        municipality_id,
        source_file,
        source_row,
        source_line,
        reason,
        raw_row,
        raw_row is not null as raw_row_is_delivered,
        rejected_at,
        'loader' as rejected_by

    from loader_rejections

    union all

    select
        delivery_id,
        municipality_id,
        source_file,
        source_row,
        source_line,
        reason,
        raw_row,
        raw_row_is_delivered,
        rejected_at,
        rejected_by

    from exchange_rate_rejections

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
        unioned.*,
        deliveries.file_sha256

    from unioned

    left join deliveries
        on unioned.delivery_id = deliveries.delivery_id

)

select * from final
