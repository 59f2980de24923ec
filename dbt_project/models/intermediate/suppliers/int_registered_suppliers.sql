-- One row per supplier of the cooperation's supplier register, with the identity
-- a line found through it gets (BRIEF §4 rule 5): the supplier's validated
-- organisation number where the register gives one, so that a line carrying the
-- number and a line found by an alias are one supplier; otherwise
-- 'register:' and the supplier_id.

with

register as (

    select * from {{ ref('stg_raw__supplier_register') }}

),

suppliers as (

    select distinct
        supplier_id,
        supplier_name,
        org_no

    from register

),

final as (

    select
        supplier_id,
        supplier_name,
        org_no,
        coalesce(org_no, {{ dbt.concat(["'register:'", 'supplier_id']) }}) as supplier_key

    from suppliers

)

select * from final
