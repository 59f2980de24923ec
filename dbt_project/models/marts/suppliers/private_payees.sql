-- The supplier identities the supplier register marks as private persons (is_person):
-- a sole proprietorship named after its owner, a foster home, a person paid a fee. The
-- economy council's dashboards and the annual report never name them (nor any payee
-- identified neither by a validated organisation number nor by the register, whose
-- supplier_key is 'name:...'): dashboards/privacy.py reads this mart.

with

registered as (

    select * from {{ ref('int_registered_suppliers') }}

),

final as (

    select distinct supplier_key

    from registered

    where is_person

)

select * from final
