-- One row per supplier of the cooperation's supplier register, with the identity
-- a line found through it gets (BRIEF §4 rule 5): the supplier's validated
-- organisation number where the register gives one, so that a line carrying the
-- number and a line found by an alias are one supplier; otherwise
-- 'register:' and the supplier_id. is_person: the register marks the supplier a
-- private person (never named to the council: the mart private_payees).

with

register as (

    select * from {{ ref('stg_raw__supplier_register') }}

),

suppliers as (

    select
        supplier_id,
        supplier_name,
        org_no,
        {{ dbt.bool_or('coalesce(is_person, false)') }} as is_person

    from register

    group by
        supplier_id,
        supplier_name,
        org_no

),

final as (

    select
        supplier_id,
        supplier_name,
        org_no,
        coalesce(org_no, {{ dbt.concat(["'register:'", 'supplier_id']) }}) as supplier_key,
        is_person

    from suppliers

)

select * from final
