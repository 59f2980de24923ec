-- Rules 3-6 and 10: which agreements are active for each spend line.
--
-- Rule 3: agreement A is active for line L when L's category is among A's
--   categories, L's municipality participates in A ('*' = all members) and
--   A.valid_from <= L.invoice_date <= A.valid_to (both ends inclusive).
-- Rule 4: covered = at least one active agreement.
-- Rule 5: on-agreement = covered and the line's validated organisation number
--   is a supplier of at least one active agreement (no valid number: never).
-- Rule 6: the same per scope (national, cooperation, local); scopes are
--   independent, so a line can be covered in several at once.
-- Rule 10: has_supplier_agreement = the supplier holds any agreement that the
--   municipality participates in and that is valid on the invoice date,
--   whatever its categories.
--
-- One narrow row per line (fct_spend_lines joins it to the line's columns).
-- Matching is done with equality joins on (category, municipality) and
-- (municipality, supplier) plus the date range, then aggregated to one row per
-- line; lines without any match get false.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_classified') }}

),

-- one row per agreement, category and participating municipality (rule 3)
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

-- one row per agreement, supplier and participating municipality (rule 10). Every
-- agreement has at least one category (the register loader rejects a row without
-- category_ids), so dropping the category from agreement_terms loses no agreement.
agreement_supplier_terms as (

    select distinct
        agreement_terms.agreement_id,
        agreement_terms.valid_from,
        agreement_terms.valid_to,
        agreement_suppliers.supplier_org_no,
        agreement_terms.municipality_id

    from agreement_terms

    inner join agreement_suppliers
        on agreement_terms.agreement_id = agreement_suppliers.agreement_id

),

matchable_lines as (

    select
        spend_line_id,
        municipality_id,
        invoice_date,
        category_id,
        case
            when is_supplier_org_no_valid then supplier_org_no
        end as supplier_org_no

    from spend_lines

),

active_agreements as (

    select
        matchable_lines.spend_line_id,
        agreement_terms.agreement_id,
        agreement_terms.scope,
        agreement_suppliers.agreement_id is not null as is_supplier_on_agreement

    from matchable_lines

    inner join agreement_terms
        on
            matchable_lines.category_id = agreement_terms.category_id
            and matchable_lines.municipality_id = agreement_terms.municipality_id
            and matchable_lines.invoice_date >= agreement_terms.valid_from
            and matchable_lines.invoice_date <= agreement_terms.valid_to

    left join agreement_suppliers
        on
            agreement_terms.agreement_id = agreement_suppliers.agreement_id
            and matchable_lines.supplier_org_no = agreement_suppliers.supplier_org_no

),

coverage as (

    select
        spend_line_id,
        {{ dbt.bool_or('is_supplier_on_agreement') }} as is_on_agreement,
        {% for scope in ['national', 'cooperation', 'local'] -%}
        {{ dbt.bool_or("scope = '" ~ scope ~ "'") }} as is_covered_{{ scope }},
        {{ dbt.bool_or("scope = '" ~ scope ~ "' and is_supplier_on_agreement") }}
            as is_on_agreement_{{ scope }},
        {% endfor -%}
        count(distinct agreement_id) as active_agreement_count

    from active_agreements

    group by spend_line_id

),

supplier_agreements as (

    select distinct matchable_lines.spend_line_id

    from matchable_lines

    inner join agreement_supplier_terms
        on
            matchable_lines.supplier_org_no = agreement_supplier_terms.supplier_org_no
            and matchable_lines.municipality_id = agreement_supplier_terms.municipality_id
            and matchable_lines.invoice_date >= agreement_supplier_terms.valid_from
            and matchable_lines.invoice_date <= agreement_supplier_terms.valid_to

),

final as (

    select
        spend_lines.spend_line_id,
        coverage.spend_line_id is not null as is_covered,
        coalesce(coverage.is_on_agreement, false) as is_on_agreement,
        {% for scope in ['national', 'cooperation', 'local'] -%}
        coalesce(coverage.is_covered_{{ scope }}, false) as is_covered_{{ scope }},
        coalesce(coverage.is_on_agreement_{{ scope }}, false)
            as is_on_agreement_{{ scope }},
        {% endfor -%}
        coalesce(coverage.active_agreement_count, 0) as active_agreement_count,
        supplier_agreements.spend_line_id is not null as has_supplier_agreement

    from spend_lines

    left join coverage
        on spend_lines.spend_line_id = coverage.spend_line_id

    left join supplier_agreements
        on spend_lines.spend_line_id = supplier_agreements.spend_line_id

)

select * from final
