-- Rules 4-6 and 10 per spend line, from the active agreements of rule 3
-- (int_spend_line_agreements, computed once there).
--
-- Rule 4: covered = at least one active agreement.
-- Rule 5: on-agreement = covered and the line's identified supplier is a supplier
--   of at least one active agreement (not identified: never).
-- Rule 6: the same per scope (national, cooperation, local); scopes are
--   independent, so a line can be covered in several at once.
-- Rule 10: has_supplier_agreement = the line's identified supplier holds any
--   agreement that the municipality participates in and that is valid on the
--   invoice date, whatever its categories.
--
-- One narrow row per line (fct_spend_lines joins it to the line's columns). The
-- flags are aggregated per match key (municipality, category, supplier, invoice
-- date) and joined back to the lines on equality; lines without any match get
-- false.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_classified') }}

),

line_agreements as (

    select * from {{ ref('int_spend_line_agreements') }}

),

-- one row per agreement, category and participating municipality (rule 3)
agreement_terms as (

    select * from {{ ref('int_agreement_terms') }}

),

agreement_suppliers as (

    select * from {{ ref('int_agreement_suppliers') }}

),

coverage as (

    select
        municipality_id,
        category_id,
        supplier_key,
        invoice_date,
        {{ dbt.bool_or('is_supplier_on_agreement') }} as is_on_agreement,
        {% for scope in ['national', 'cooperation', 'local'] -%}
        {{ dbt.bool_or("scope = '" ~ scope ~ "'") }} as is_covered_{{ scope }},
        {{ dbt.bool_or("scope = '" ~ scope ~ "' and is_supplier_on_agreement") }}
            as is_on_agreement_{{ scope }},
        {% endfor -%}
        count(distinct agreement_id) as active_agreement_count

    from line_agreements

    group by
        municipality_id,
        category_id,
        supplier_key,
        invoice_date

),

-- one row per agreement, supplier and participating municipality (rule 10). Every
-- agreement has at least one category (the register loader rejects a row without
-- category_ids), so dropping the category from agreement_terms loses no agreement.
agreement_supplier_terms as (

    select distinct
        agreement_terms.agreement_id,
        agreement_terms.valid_from,
        agreement_terms.valid_to,
        agreement_suppliers.supplier_key,
        agreement_terms.municipality_id

    from agreement_terms

    inner join agreement_suppliers
        on agreement_terms.agreement_id = agreement_suppliers.agreement_id

),

supplier_days as (

    select distinct
        municipality_id,
        supplier_key,
        invoice_date

    from spend_lines

    where is_supplier_identified

),

supplier_agreements as (

    select distinct
        supplier_days.municipality_id,
        supplier_days.supplier_key,
        supplier_days.invoice_date

    from supplier_days

    inner join agreement_supplier_terms
        on
            supplier_days.supplier_key = agreement_supplier_terms.supplier_key
            and supplier_days.municipality_id = agreement_supplier_terms.municipality_id
            and supplier_days.invoice_date >= agreement_supplier_terms.valid_from
            and supplier_days.invoice_date <= agreement_supplier_terms.valid_to

),

final as (

    select
        spend_lines.spend_line_id,
        coverage.municipality_id is not null as is_covered,
        coalesce(coverage.is_on_agreement, false) as is_on_agreement,
        {% for scope in ['national', 'cooperation', 'local'] -%}
        coalesce(coverage.is_covered_{{ scope }}, false) as is_covered_{{ scope }},
        coalesce(coverage.is_on_agreement_{{ scope }}, false)
            as is_on_agreement_{{ scope }},
        {% endfor -%}
        coalesce(coverage.active_agreement_count, 0) as active_agreement_count,
        -- a supplier_key that is not identified ('name:...') matches none of
        -- supplier_agreements' keys; the flag states it, outside the join condition
        -- (inside it, DuckDB plans a nested-loop join)
        spend_lines.is_supplier_identified
        and supplier_agreements.municipality_id is not null as has_supplier_agreement

    from spend_lines

    left join coverage
        on {{ same_match_key('spend_lines', 'coverage') }}

    left join supplier_agreements
        on
            spend_lines.municipality_id = supplier_agreements.municipality_id
            and spend_lines.supplier_key = supplier_agreements.supplier_key
            and spend_lines.invoice_date = supplier_agreements.invoice_date

)

select * from final
