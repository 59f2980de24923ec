-- Purchases outside agreements ("kjøp utenfor avtale") as the list the host sends
-- to each member's management: the covered lines that are not on-agreement (BRIEF
-- §4 rules 4-5), per member, year, department (responsibility code, where the
-- source has one), supplier and category, with the agreements that should have
-- been used (active for those lines by rule 3) and those agreements' suppliers.

with

off_agreement_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_covered and not is_on_agreement

),

agreement_terms as (

    select * from {{ ref('int_agreement_terms') }}

),

agreement_suppliers as (

    select distinct
        agreement_id,
        supplier_org_no

    from {{ ref('stg_raw__agreement_suppliers') }}

    where is_supplier_org_no_valid and supplier_org_no is not null

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

categories as (

    select * from {{ ref('dim_categories') }}

),

grouped as (

    select
        municipality_id,
        year,
        department,
        supplier_key,
        category_id,
        max(case when is_supplier_org_no_valid then supplier_org_no end) as supplier_org_no,
        sum(amount) as off_agreement_spend,
        count(*) as line_count,
        count(distinct invoice_id) as invoice_count,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date

    from off_agreement_lines

    group by
        municipality_id,
        year,
        department,
        supplier_key,
        category_id

),

-- the agreements active for at least one of the group's lines
group_agreements as (

    select distinct
        off_agreement_lines.municipality_id,
        off_agreement_lines.year,
        off_agreement_lines.department,
        off_agreement_lines.supplier_key,
        off_agreement_lines.category_id,
        agreement_terms.agreement_id,
        agreement_terms.agreement_name

    from off_agreement_lines

    inner join agreement_terms
        on
            off_agreement_lines.category_id = agreement_terms.category_id
            and off_agreement_lines.municipality_id = agreement_terms.municipality_id
            and off_agreement_lines.invoice_date >= agreement_terms.valid_from
            and off_agreement_lines.invoice_date <= agreement_terms.valid_to

),

group_agreement_suppliers as (

    select distinct
        group_agreements.municipality_id,
        group_agreements.year,
        group_agreements.department,
        group_agreements.supplier_key,
        group_agreements.category_id,
        coalesce(
            {{ dbt.concat([
                'supplier_names.supplier_name',
                "' ('",
                'agreement_suppliers.supplier_org_no',
                "')'",
            ]) }},
            agreement_suppliers.supplier_org_no
        ) as agreement_supplier

    from group_agreements

    inner join agreement_suppliers
        on group_agreements.agreement_id = agreement_suppliers.agreement_id

    left join supplier_names
        on agreement_suppliers.supplier_org_no = supplier_names.supplier_key

),

agreement_lists as (

    select
        municipality_id,
        year,
        department,
        supplier_key,
        category_id,
        count(*) as agreement_count,
        {{ dbt.listagg(
            dbt.concat(['agreement_id', "': '", 'agreement_name']),
            "'; '",
            'order by agreement_id',
        ) }} as agreements_to_use

    from group_agreements

    group by
        municipality_id,
        year,
        department,
        supplier_key,
        category_id

),

supplier_lists as (

    select
        municipality_id,
        year,
        department,
        supplier_key,
        category_id,
        {{ dbt.listagg('agreement_supplier', "'; '", 'order by agreement_supplier') }}
            as agreement_suppliers

    from group_agreement_suppliers

    group by
        municipality_id,
        year,
        department,
        supplier_key,
        category_id

),

final as (

    select
        grouped.municipality_id,
        grouped.year,
        grouped.department,
        grouped.supplier_key,
        grouped.supplier_org_no,
        supplier_names.supplier_name,
        grouped.category_id,
        categories.category_name,
        cast(grouped.off_agreement_spend as decimal(18, 4)) as off_agreement_spend,
        cast(grouped.line_count as bigint) as line_count,
        cast(grouped.invoice_count as bigint) as invoice_count,
        grouped.first_invoice_date,
        grouped.last_invoice_date,
        cast(agreement_lists.agreement_count as bigint) as agreement_count,
        agreement_lists.agreements_to_use,
        supplier_lists.agreement_suppliers

    from grouped

    left join supplier_names
        on grouped.supplier_key = supplier_names.supplier_key

    left join categories
        on grouped.category_id = categories.category_id

    left join agreement_lists
        on
            grouped.municipality_id = agreement_lists.municipality_id
            and grouped.year = agreement_lists.year
            and grouped.supplier_key = agreement_lists.supplier_key
            and grouped.category_id = agreement_lists.category_id
            and {{ equal_or_both_null('grouped.department', 'agreement_lists.department') }}

    left join supplier_lists
        on
            grouped.municipality_id = supplier_lists.municipality_id
            and grouped.year = supplier_lists.year
            and grouped.supplier_key = supplier_lists.supplier_key
            and grouped.category_id = supplier_lists.category_id
            and {{ equal_or_both_null('grouped.department', 'supplier_lists.department') }}

)

select * from final
