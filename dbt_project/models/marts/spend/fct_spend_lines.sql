-- One row per loaded spend line that has an exchange rate, with its amount in
-- the cooperation's currency, its supplier identity (rule 5: organisation number
-- or supplier register), its category (rules 1-2) and its agreement flags
-- (rules 3-6, 10). Lines without a rate are in rejected_rows instead.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_converted') }}

    where has_exchange_rate

),

classified as (

    select * from {{ ref('int_spend_lines_classified') }}

),

matched as (

    select * from {{ ref('int_spend_lines_matched') }}

),

final as (

    select
        spend_lines.spend_line_id,
        spend_lines.delivery_id,
        spend_lines.municipality_id,
        spend_lines.invoice_id,
        spend_lines.line_no,
        spend_lines.invoice_date,
        spend_lines.year,
        spend_lines.quarter,
        spend_lines.month_start,
        spend_lines.supplier_org_no,
        spend_lines.supplier_org_no_raw,
        spend_lines.is_supplier_org_no_valid,
        spend_lines.supplier_name,
        spend_lines.local_supplier_id,
        classified.supplier_key,
        classified.is_supplier_identified,
        classified.supplier_identified_by,
        classified.identified_org_no,
        classified.register_supplier_id,
        spend_lines.supplier_country,
        spend_lines.account,
        spend_lines.art,
        spend_lines.currency,
        spend_lines.amount_excl_vat,
        spend_lines.exchange_rate,
        spend_lines.amount,
        spend_lines.item_code,
        spend_lines.item_code_scheme,
        spend_lines.description,
        spend_lines.order_ref,
        spend_lines.contract_ref,
        spend_lines.department,
        spend_lines.seller_item_id,
        spend_lines.quantity,
        spend_lines.unit_price,
        classified.is_art_known,
        classified.is_excluded_supplier,
        classified.is_influenceable,
        classified.category_id,
        classified.classification_rule_type,
        classified.classification_rule_pattern,
        matched.is_covered,
        matched.is_on_agreement,
        matched.is_covered_national,
        matched.is_on_agreement_national,
        matched.is_covered_cooperation,
        matched.is_on_agreement_cooperation,
        matched.is_covered_local,
        matched.is_on_agreement_local,
        matched.active_agreement_count,
        matched.has_supplier_agreement,
        spend_lines.source_file,
        spend_lines.source_row,
        spend_lines.file_sha256,
        spend_lines.loaded_at

    from spend_lines

    inner join classified
        on spend_lines.spend_line_id = classified.spend_line_id

    inner join matched
        on spend_lines.spend_line_id = matched.spend_line_id

)

select * from final
