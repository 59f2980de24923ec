-- One row per supplier and year: who the cooperation buys from. A supplier is its
-- supplier_key, its identity (BRIEF §4 rule 5, int_supplier_identities): the
-- validated organisation number (name variants of one number are one supplier),
-- or the supplier register's supplier found by an alias (its organisation number,
-- or 'register:' and its id), else 'name:' and the normalised name. Shown with
-- the register's name, else the most frequent name. Per supplier: spend, the
-- members buying, the categories, whether it holds agreements, and its share on
-- agreement.

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

excluded_suppliers as (

    select * from {{ ref('int_excluded_suppliers') }}

),

agreement_holders as (

    select
        supplier_key,
        count(distinct agreement_id) as agreement_count

    from {{ ref('int_agreement_suppliers') }}

    group by supplier_key

),

by_supplier as (

    select
        supplier_key,
        year,
        max(identified_org_no) as supplier_org_no,
        max(case when is_supplier_org_no_valid then supplier_org_no end) as line_org_no,
        max(
            case when not is_supplier_org_no_valid then supplier_org_no_raw end
        ) as invalid_org_no_example,
        {{ dbt.bool_or('is_supplier_identified') }} as is_supplier_identified,
        max(register_supplier_id) as register_supplier_id,
        max(supplier_country) as supplier_country,
        {{ dbt.bool_or('is_excluded_supplier') }} as is_excluded_supplier,
        sum(amount) as total_spend,
        sum(case when is_influenceable then amount else 0 end) as influenceable_spend,
        sum(case when is_covered then amount else 0 end) as covered_spend,
        sum(case when is_on_agreement then amount else 0 end) as on_agreement_spend,
        count(*) as line_count,
        count(distinct {{ dbt.concat(['municipality_id', "'/'", 'invoice_id']) }})
            as invoice_count,
        count(distinct municipality_id) as member_count,
        count(distinct category_id) as category_count

    from spend_lines

    group by
        supplier_key,
        year

),

supplier_members as (

    select distinct
        supplier_key,
        year,
        municipality_id

    from spend_lines

),

member_lists as (

    select
        supplier_key,
        year,
        {{ dbt.listagg('municipality_id', "', '", 'order by municipality_id') }} as members

    from supplier_members

    group by
        supplier_key,
        year

),

supplier_categories as (

    select distinct
        supplier_key,
        year,
        category_id

    from spend_lines

    where category_id is not null

),

category_lists as (

    select
        supplier_key,
        year,
        {{ dbt.listagg('category_id', "', '", 'order by category_id') }} as categories

    from supplier_categories

    group by
        supplier_key,
        year

),

final as (

    select
        by_supplier.supplier_key,
        by_supplier.year,
        by_supplier.supplier_org_no,
        case
            when by_supplier.line_org_no is not null then 'valid'
            when by_supplier.invalid_org_no_example is not null then 'invalid'
            else 'missing'
        end as org_no_status,
        by_supplier.invalid_org_no_example,
        by_supplier.is_supplier_identified,
        by_supplier.register_supplier_id,
        supplier_names.supplier_name,
        coalesce(supplier_names.name_variant_count, 0) as name_variant_count,
        by_supplier.supplier_country,
        by_supplier.is_excluded_supplier,
        excluded_suppliers.exclusion_reason,
        agreement_holders.supplier_key is not null as holds_agreement,
        coalesce(agreement_holders.agreement_count, 0) as agreement_count,
        cast(by_supplier.total_spend as decimal(38, 4)) as total_spend,
        cast(by_supplier.influenceable_spend as decimal(38, 4)) as influenceable_spend,
        cast(by_supplier.covered_spend as decimal(38, 4)) as covered_spend,
        cast(by_supplier.on_agreement_spend as decimal(38, 4)) as on_agreement_spend,
        {{ off_agreement_spend(
            'by_supplier.covered_spend', 'by_supplier.on_agreement_spend'
        ) }} as off_agreement_spend,
        {{ safe_ratio('by_supplier.on_agreement_spend', 'by_supplier.total_spend') }}
            as on_agreement_share,
        cast(by_supplier.member_count as bigint) as member_count,
        member_lists.members,
        cast(by_supplier.category_count as bigint) as category_count,
        category_lists.categories,
        cast(by_supplier.line_count as bigint) as line_count,
        cast(by_supplier.invoice_count as bigint) as invoice_count

    from by_supplier

    left join supplier_names
        on by_supplier.supplier_key = supplier_names.supplier_key

    left join excluded_suppliers
        on
            by_supplier.supplier_key = excluded_suppliers.supplier_key
            and by_supplier.is_supplier_identified

    left join agreement_holders
        on
            by_supplier.supplier_key = agreement_holders.supplier_key
            and by_supplier.is_supplier_identified

    left join member_lists
        on
            by_supplier.supplier_key = member_lists.supplier_key
            and by_supplier.year = member_lists.year

    left join category_lists
        on
            by_supplier.supplier_key = category_lists.supplier_key
            and by_supplier.year = category_lists.year

)

select * from final
