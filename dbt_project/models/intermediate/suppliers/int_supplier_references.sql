-- Every supplier as the agreement register, the classification rules and the
-- exclusion list name it, with the supplier identity it stands for (BRIEF §4
-- rules 1, 2 and 5): a supplier_id of the supplier register is that supplier's
-- identity (int_registered_suppliers); otherwise the reference is a validated
-- organisation number (the loaders compacted it; NULL: neither, it names no
-- supplier and matches no line).

with

agreement_suppliers as (

    select * from {{ ref('stg_raw__agreement_suppliers') }}

),

excluded_suppliers as (

    select * from {{ ref('stg_raw__excluded_suppliers') }}

),

classification_rules as (

    select * from {{ ref('stg_raw__classification_rules') }}

),

registered_suppliers as (

    select * from {{ ref('int_registered_suppliers') }}

),

-- the reference as written, and the organisation number it is where it is one
references_written as (

    select
        supplier_org_no_raw as supplier_reference,
        case when is_supplier_org_no_valid then supplier_org_no end as org_no

    from agreement_suppliers

    union

    select
        supplier_org_no_raw as supplier_reference,
        supplier_org_no as org_no

    from excluded_suppliers

    union

    -- the loader wrote a supplier rule's pattern as the compact number or the supplier_id
    select
        rule_pattern as supplier_reference,
        rule_pattern as org_no

    from classification_rules

    where rule_type = 'supplier'

),

-- one row per reference (a text that one source validated and another did not,
-- e.g. a shipped rule's pattern, keeps the number it was given)
distinct_references as (

    select
        supplier_reference,
        max(org_no) as org_no

    from references_written

    group by supplier_reference

),

final as (

    select
        distinct_references.supplier_reference,
        registered_suppliers.supplier_id as register_supplier_id,
        coalesce(registered_suppliers.supplier_key, distinct_references.org_no) as supplier_key

    from distinct_references

    left join registered_suppliers
        on distinct_references.supplier_reference = registered_suppliers.supplier_id

)

select * from final
