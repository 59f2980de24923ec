with

source as (

    select * from {{ source('raw', 'spend_lines') }}

),

renamed as (

    select
        {{ dbt.concat([
            'delivery_id',
            "'-'",
            'cast(source_row as ' ~ dbt.type_string() ~ ')',
        ]) }} as spend_line_id,
        spend_line_key,
        delivery_id,
        municipality_id,
        invoice_id,
        line_no,
        invoice_date,
        supplier_org_no_raw,
        supplier_org_no,
        supplier_country,
        is_supplier_org_no_valid,
        supplier_name,
        account,
        art,
        amount_excl_vat,
        currency,
        item_code,
        item_code_scheme,
        description,
        order_ref,
        contract_ref,
        department,
        seller_item_id,
        quantity,
        unit_price,
        local_supplier_id,
        source_file,
        source_row,
        source_line,
        file_sha256,
        loaded_at

    from source

)

select * from renamed
