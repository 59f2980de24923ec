-- BRIEF §4 rule 3, computed once: every agreement active for the spend lines,
-- with whether the lines' supplier is one of its suppliers (rule 5 per
-- agreement). int_spend_lines_matched (rules 4-6), agreement_followup,
-- off_agreement_purchases and price_deviations read it.
--
-- Active (macro agreement_is_active): the line's category is among the
-- agreement's categories, the line's municipality participates ('*' = all
-- members) and valid_from <= invoice_date <= valid_to, both ends inclusive.
-- Supplier on the agreement: the line's supplier is identified (organisation
-- number or supplier register, int_supplier_identities) and its identity is one
-- of the agreement's suppliers (int_agreement_suppliers); a line whose supplier is
-- identified neither way is never on the agreement.
--
-- Keyed by what matching depends on - (municipality, category, supplier, invoice
-- date) of the influenceable rule keys of int_spend_lines_classified (each the
-- distinct lines of one supplier, art and item code on one day) - not by line:
-- the lines of one supplier on one day match alike, so the range join runs over
-- the distinct keys (equality on category and municipality plus the date range)
-- and the readers join back on the key. One row per key and active agreement.

with

spend_lines as (

    select * from {{ ref('int_spend_lines_classified') }}

    where category_id is not null

),

agreement_terms as (

    select * from {{ ref('int_agreement_terms') }}

),

agreement_suppliers as (

    select distinct
        agreement_id,
        supplier_key

    from {{ ref('int_agreement_suppliers') }}

),

match_keys as (

    select distinct
        municipality_id,
        category_id,
        supplier_key,
        is_supplier_identified,
        invoice_date

    from spend_lines

),

final as (

    select
        match_keys.municipality_id,
        match_keys.category_id,
        match_keys.supplier_key,
        match_keys.invoice_date,
        agreement_terms.agreement_id,
        agreement_terms.scope,
        -- an unidentified key ('name:...') matches no agreement supplier; the flag
        -- says so outside the join condition (inside it, DuckDB plans a nested loop)
        match_keys.is_supplier_identified
        and agreement_suppliers.agreement_id is not null as is_supplier_on_agreement

    from match_keys

    inner join agreement_terms
        on {{ agreement_is_active(
            'agreement_terms',
            'match_keys.municipality_id',
            'match_keys.category_id',
            'match_keys.invoice_date',
        ) }}

    left join agreement_suppliers
        on
            agreement_terms.agreement_id = agreement_suppliers.agreement_id
            and match_keys.supplier_key = agreement_suppliers.supplier_key

)

select * from final
