-- One row per delivered file: what the loader read, loaded, excluded (a source
-- profile's exclude_rows: income, balance sheet ...) and rejected, with the lines
-- rejected for a missing exchange rate moved from loaded to rejected, so that
-- rows_read = rows_loaded + rows_rejected + rows_excluded still holds; the loaded
-- amount in the cooperation's currency from fct_spend_lines and the excluded
-- amount as delivered. A delivery that a corrected delivery replaced shows status
-- 'replaced' and contributes no figures.

with

deliveries as (

    select * from {{ ref('stg_raw__deliveries') }}

),

replacements as (

    select * from {{ ref('stg_raw__delivery_replacements') }}

),

excluded_rows as (

    select * from {{ ref('stg_raw__excluded_rows') }}

),

converted_lines as (

    select * from {{ ref('int_spend_lines_converted') }}

),

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

exchange_rate_rejections as (

    select
        delivery_id,
        count(*) as rejected_row_count

    from converted_lines

    where not has_exchange_rate

    group by delivery_id

),

exclusions as (

    select
        delivery_id,
        sum(amount_excl_vat) as amount_excluded

    from excluded_rows

    group by delivery_id

),

loaded_lines as (

    select
        delivery_id,
        count(*) as spend_line_count,
        sum(amount) as amount_loaded,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date

    from spend_lines

    group by delivery_id

),

final as (

    select
        deliveries.delivery_id,
        deliveries.municipality_id,
        deliveries.source_file,
        deliveries.file_sha256,
        deliveries.profile,
        case
            when replacements.delivery_id is not null then 'replaced'
            else deliveries.status
        end as status,
        coalesce(replacements.replacement_reason, deliveries.message) as message,
        replacements.replaced_by_delivery_id,
        deliveries.rows_read,
        deliveries.rows_loaded
        - coalesce(exchange_rate_rejections.rejected_row_count, 0) as rows_loaded,
        deliveries.rows_rejected
        + coalesce(exchange_rate_rejections.rejected_row_count, 0) as rows_rejected,
        coalesce(exchange_rate_rejections.rejected_row_count, 0)
            as rows_rejected_exchange_rate,
        -- NULL in a warehouse written before exclude_rows existed: none were excluded
        coalesce(deliveries.rows_excluded, 0) as rows_excluded,
        cast(coalesce(loaded_lines.amount_loaded, 0) as decimal(38, 4)) as amount_loaded,
        cast(coalesce(exclusions.amount_excluded, 0) as decimal(38, 4)) as amount_excluded,
        coalesce(loaded_lines.first_invoice_date, deliveries.first_invoice_date)
            as first_invoice_date,
        coalesce(loaded_lines.last_invoice_date, deliveries.last_invoice_date)
            as last_invoice_date,
        coalesce(loaded_lines.spend_line_count, 0) as spend_line_count,
        deliveries.amount_loaded as reported_amount_loaded,
        deliveries.delivery_series,
        deliveries.delivery_period,
        deliveries.loaded_at

    from deliveries

    left join exchange_rate_rejections
        on deliveries.delivery_id = exchange_rate_rejections.delivery_id

    left join loaded_lines
        on deliveries.delivery_id = loaded_lines.delivery_id

    left join exclusions
        on deliveries.delivery_id = exclusions.delivery_id

    left join replacements
        on deliveries.delivery_id = replacements.delivery_id

)

select * from final
