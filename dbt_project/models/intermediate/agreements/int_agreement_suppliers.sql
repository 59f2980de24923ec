-- One row per agreement and supplier (BRIEF §4 rule 5): the supplier identity
-- each entry of the agreement's supplier_org_nos stands for (int_supplier_references:
-- a validated organisation number, or a supplier register id's identity). An entry
-- that is neither names no supplier and is left out (the loader reported it).

with

agreement_suppliers as (

    select * from {{ ref('stg_raw__agreement_suppliers') }}

),

supplier_references as (

    select * from {{ ref('int_supplier_references') }}

),

final as (

    select distinct
        agreement_suppliers.agreement_id,
        -- as the agreement names it: the compact number, or the register's supplier_id
        case
            when agreement_suppliers.is_supplier_org_no_valid
                then agreement_suppliers.supplier_org_no
            else agreement_suppliers.supplier_org_no_raw
        end as supplier_reference,
        supplier_references.supplier_key,
        supplier_references.register_supplier_id

    from agreement_suppliers

    inner join supplier_references
        on agreement_suppliers.supplier_org_no_raw = supplier_references.supplier_reference

    where supplier_references.supplier_key is not null

)

select * from final
