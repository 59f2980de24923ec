-- One row per excluded supplier (BRIEF §4 rule 1: its spend is not
-- influenceable): the identity each entry of the exclusion list stands for
-- (int_supplier_references: a validated organisation number or a supplier
-- register id), with the reason (the first, should it be listed twice). An entry
-- that is neither names no supplier and excludes nothing.

with

exclusions as (

    select * from {{ ref('stg_raw__excluded_suppliers') }}

),

supplier_references as (

    select * from {{ ref('int_supplier_references') }}

),

final as (

    select
        supplier_references.supplier_key,
        min(exclusions.exclusion_reason) as exclusion_reason

    from exclusions

    inner join supplier_references
        on exclusions.supplier_org_no_raw = supplier_references.supplier_reference

    where supplier_references.supplier_key is not null

    group by supplier_references.supplier_key

)

select * from final
