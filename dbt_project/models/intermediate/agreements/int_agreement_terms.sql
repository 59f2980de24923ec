-- One row per agreement, category and participating municipality: what rule 3
-- matches a spend line against (category, municipality, and the validity dates,
-- both ends inclusive).

with

agreements as (

    select * from {{ ref('stg_raw__agreements') }}

),

agreement_categories as (

    select distinct
        agreement_id,
        category_id

    from {{ ref('stg_raw__agreement_categories') }}

),

agreement_participants as (

    select * from {{ ref('int_agreement_participants_expanded') }}

),

final as (

    select
        agreements.agreement_id,
        agreements.agreement_name,
        agreements.scope,
        agreements.valid_from,
        agreements.valid_to,
        agreement_categories.category_id,
        agreement_participants.municipality_id

    from agreements

    inner join agreement_categories
        on agreements.agreement_id = agreement_categories.agreement_id

    inner join agreement_participants
        on agreements.agreement_id = agreement_participants.agreement_id

)

select * from final
