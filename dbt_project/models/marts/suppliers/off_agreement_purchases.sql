-- Purchases outside agreements ("kjøp utenfor avtale") as the list the host sends
-- to each member's management: the covered lines that are not on-agreement (BRIEF
-- §4 rules 4-5), per member, year, department (responsibility code, where the
-- source has one), supplier (its identity, supplier_key) and category, with the
-- agreements that should have been used (active for those lines by rule 3,
-- int_spend_line_agreements) and those agreements' suppliers.

{%- set purchase_group = ['municipality_id', 'year', 'department', 'supplier_key', 'category_id'] %}

with

off_agreement_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where is_covered and not is_on_agreement

),

-- the agreements active for the lines (rule 3), per match key
line_agreements as (

    select * from {{ ref('int_spend_line_agreements') }}

),

agreements as (

    select * from {{ ref('stg_raw__agreements') }}

),

agreement_suppliers as (

    select * from {{ ref('int_agreement_suppliers') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

categories as (

    select * from {{ ref('dim_categories') }}

),

grouped as (

    select
        {% for column in purchase_group -%}
        {{ column }},
        {% endfor -%}
        max(identified_org_no) as supplier_org_no,
        sum(amount) as off_agreement_spend,
        count(*) as line_count,
        count(distinct invoice_id) as invoice_count,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date

    from off_agreement_lines

    group by {{ purchase_group | join(', ') }}

),

-- the agreements active for at least one of the group's lines
group_agreements as (

    select distinct
        {% for column in purchase_group -%}
        off_agreement_lines.{{ column }},
        {% endfor -%}
        agreements.agreement_id,
        agreements.agreement_name

    from off_agreement_lines

    inner join line_agreements
        on {{ same_match_key('off_agreement_lines', 'line_agreements') }}

    inner join agreements
        on line_agreements.agreement_id = agreements.agreement_id

),

group_agreement_suppliers as (

    select distinct
        {% for column in purchase_group -%}
        group_agreements.{{ column }},
        {% endfor -%}
        coalesce(
            {{ dbt.concat([
                'supplier_names.supplier_name',
                "' ('",
                'agreement_suppliers.supplier_reference',
                "')'",
            ]) }},
            agreement_suppliers.supplier_reference
        ) as agreement_supplier

    from group_agreements

    inner join agreement_suppliers
        on group_agreements.agreement_id = agreement_suppliers.agreement_id

    left join supplier_names
        on agreement_suppliers.supplier_key = supplier_names.supplier_key

),

-- per group: the agreements to use and their suppliers
agreement_lists as (

    select
        {% for column in purchase_group -%}
        {{ column }},
        {% endfor -%}
        count(*) as agreement_count,
        {{ dbt.listagg(
            dbt.concat(['agreement_id', "': '", 'agreement_name']),
            "'; '",
            'order by agreement_id',
        ) }} as agreements_to_use

    from group_agreements

    group by {{ purchase_group | join(', ') }}

),

supplier_lists as (

    select
        {% for column in purchase_group -%}
        {{ column }},
        {% endfor -%}
        {{ dbt.listagg('agreement_supplier', "'; '", 'order by agreement_supplier') }}
            as agreement_suppliers

    from group_agreement_suppliers

    group by {{ purchase_group | join(', ') }}

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
        cast(grouped.off_agreement_spend as decimal(38, 4)) as off_agreement_spend,
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
        on {{ same_values('grouped', 'agreement_lists', purchase_group) }}

    left join supplier_lists
        on {{ same_values('grouped', 'supplier_lists', purchase_group) }}

)

select * from final
