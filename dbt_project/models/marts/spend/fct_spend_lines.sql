-- One row per loaded spend line that has an exchange rate, with its amount in
-- the cooperation's currency, its category (rules 1-2) and its agreement flags
-- (rules 3-6, 10). Lines without a rate are in rejected_rows instead.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_matched') }}

),

final as (

    select
        spend_line_id,
        delivery_id,
        municipality_id,
        invoice_id,
        line_no,
        invoice_date,
        year,
        quarter,
        month_start,
        supplier_org_no,
        supplier_org_no_raw,
        is_supplier_org_no_valid,
        supplier_name,
        supplier_country,
        account,
        art,
        currency,
        amount_excl_vat,
        exchange_rate,
        amount,
        item_code,
        item_code_scheme,
        description,
        order_ref,
        contract_ref,
        is_art_known,
        is_excluded_supplier,
        is_influenceable,
        category_id,
        classification_rule_type,
        classification_rule_pattern,
        is_covered,
        is_on_agreement,
        is_covered_national,
        is_on_agreement_national,
        is_covered_cooperation,
        is_on_agreement_cooperation,
        is_covered_local,
        is_on_agreement_local,
        active_agreement_count,
        has_supplier_agreement,
        source_file,
        source_row,
        file_sha256,
        loaded_at

    from spend_lines

)

select * from final
