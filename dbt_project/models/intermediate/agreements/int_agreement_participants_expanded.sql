-- One row per agreement and participating municipality, with `*` (all members)
-- expanded to every row of the municipality register.

with

participants as (

    select * from {{ ref('stg_raw__agreement_participants') }}

),

municipalities as (

    select * from {{ ref('stg_raw__municipalities') }}

),

named_participants as (

    select
        agreement_id,
        municipality_id,
        false as is_all_members

    from participants

    where not is_all_members

),

all_member_participants as (

    select
        participants.agreement_id,
        municipalities.municipality_id,
        true as is_all_members

    from participants

    cross join municipalities

    where participants.is_all_members

),

unioned as (

    select * from named_participants

    union all

    select * from all_member_participants

),

final as (

    select
        agreement_id,
        municipality_id,
        {{ dbt.bool_or('is_all_members') }} as is_all_members

    from unioned

    group by
        agreement_id,
        municipality_id

)

select * from final
