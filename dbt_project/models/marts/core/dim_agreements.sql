-- One row per framework agreement with its scope, validity, categories,
-- suppliers and participants ('*' expanded to all members).

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

agreement_suppliers as (

    select * from {{ ref('stg_raw__agreement_suppliers') }}

),

-- the suppliers the entries stand for: a valid number or a registered supplier_id
identified_suppliers as (

    select * from {{ ref('int_agreement_suppliers') }}

),

agreement_participants as (

    select * from {{ ref('int_agreement_participants_expanded') }}

),

category_lists as (

    select
        agreement_id,
        count(*) as category_count,
        {{ dbt.listagg('category_id', "', '", 'order by category_id') }} as category_ids

    from agreement_categories

    group by agreement_id

),

supplier_lists as (

    select
        agreement_id,
        count(distinct coalesce(supplier_org_no, supplier_org_no_raw)) as supplier_count,
        {{ dbt.listagg(
            'distinct coalesce(supplier_org_no, supplier_org_no_raw)',
            "', '",
            'order by coalesce(supplier_org_no, supplier_org_no_raw)',
        ) }} as supplier_org_nos

    from agreement_suppliers

    group by agreement_id

),

identified_counts as (

    select
        agreement_id,
        count(distinct supplier_key) as valid_supplier_count

    from identified_suppliers

    group by agreement_id

),

participant_lists as (

    select
        agreement_id,
        count(*) as participant_count,
        {{ dbt.bool_or('is_all_members') }} as is_all_members,
        {{ dbt.listagg('municipality_id', "', '", 'order by municipality_id') }}
            as municipality_ids

    from agreement_participants

    group by agreement_id

),

final as (

    select
        agreements.agreement_id,
        agreements.agreement_name,
        agreements.scope,
        agreements.valid_from,
        agreements.valid_to,
        agreements.provision_rate,
        category_lists.category_ids,
        coalesce(category_lists.category_count, 0) as category_count,
        supplier_lists.supplier_org_nos,
        coalesce(supplier_lists.supplier_count, 0) as supplier_count,
        coalesce(identified_counts.valid_supplier_count, 0) as valid_supplier_count,
        participant_lists.municipality_ids,
        coalesce(participant_lists.participant_count, 0) as participant_count,
        coalesce(participant_lists.is_all_members, false) as is_all_members,
        agreements.source_file,
        agreements.source_row

    from agreements

    left join category_lists
        on agreements.agreement_id = category_lists.agreement_id

    left join supplier_lists
        on agreements.agreement_id = supplier_lists.agreement_id

    left join identified_counts
        on agreements.agreement_id = identified_counts.agreement_id

    left join participant_lists
        on agreements.agreement_id = participant_lists.agreement_id

)

select * from final
