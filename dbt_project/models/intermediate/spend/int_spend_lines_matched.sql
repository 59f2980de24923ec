{{ config(
    materialized=line_model_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
) }}

-- Rules 4-6 and 10 per rule key (macro rule_key_columns), from the active
-- agreements of rule 3 (int_spend_line_agreements, computed once there).
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
-- One row per rule key of int_spend_lines_classified, with its classification
-- and the flags: everything fct_spend_lines adds to a line, joined to the lines
-- once, on the key. The flags are aggregated per match key (municipality,
-- category, supplier, invoice date) and joined to the rule keys on equality;
-- keys without any match get false.
--
-- Incremental on DuckDB like int_spend_lines_classified (macro
-- loaded_since_last_build): a build adds the keys classified since the last one.

with

rule_keys as (

    select * from {{ ref('int_spend_lines_classified') }}

    where true {{ loaded_since_last_build('max_spend_line_key') }}

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

    from rule_keys

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
        {% for column in rule_key_columns() -%}
        rule_keys.{{ column }},
        {% endfor -%}
        rule_keys.max_spend_line_key,
        rule_keys.supplier_key,
        rule_keys.is_supplier_identified,
        rule_keys.supplier_identified_by,
        rule_keys.identified_org_no,
        rule_keys.register_supplier_id,
        rule_keys.is_art_known,
        rule_keys.is_excluded_supplier,
        rule_keys.is_influenceable,
        rule_keys.category_id,
        rule_keys.classification_rule_type,
        rule_keys.classification_rule_pattern,
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
        rule_keys.is_supplier_identified
        and supplier_agreements.municipality_id is not null as has_supplier_agreement

    from rule_keys

    left join coverage
        on {{ same_match_key('rule_keys', 'coverage') }}

    left join supplier_agreements
        on
            rule_keys.municipality_id = supplier_agreements.municipality_id
            and rule_keys.supplier_key = supplier_agreements.supplier_key
            and rule_keys.invoice_date = supplier_agreements.invoice_date

)

select * from final
