-- Possible duplicate invoices: pairs of invoices a member may have paid twice.
-- The pairs come from int_invoice_pairs_proposed (how an invoice, a copy and
-- the two rules are defined: see its header), read from fct_spend_lines, which
-- holds only live lines:
--
-- (a) 'same invoice id delivered twice': every later copy of an invoice id
--     (same member, same supplier_key) is paired with its FIRST copy, whatever
--     the amounts: k copies give k - 1 pairs.
-- (b) 'same amount within N days under another invoice id': each invoice id
--     (by its first copy) is paired with the NEAREST EARLIER invoice id of the
--     same member, supplier_key and amount when their invoice dates are at
--     most var('duplicate_window_days') days apart (default 7, inclusive);
--     amounts above 0 and at least var('duplicate_min_amount') (default 0).
--
-- Bounded: no self-join; every invoice is the second side of at most one pair
-- per rule. The pairs of a payee that possible_duplicate_payees lists for the
-- year of the pair's first invoice (no supplier identity, a catch-all payee of
-- var('catch_all_payees'), more than var('duplicate_max_pairs_per_supplier')
-- pairs) are left out: the payee is listed there instead.

with

pairs as (

    select * from {{ ref('int_invoice_pairs_proposed') }}

),

listed_payees as (

    select * from {{ ref('possible_duplicate_payees') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

final as (

    select
        pairs.municipality_id,
        pairs.supplier_key,
        supplier_names.supplier_name,
        pairs.reason,
        pairs.first_invoice_id,
        pairs.first_invoice_date,
        pairs.first_amount,
        pairs.first_line_count,
        pairs.first_source_file,
        pairs.first_source_row,
        pairs.first_delivery_id,
        pairs.second_invoice_id,
        pairs.second_invoice_date,
        pairs.second_amount,
        pairs.second_line_count,
        pairs.second_source_file,
        pairs.second_source_row,
        pairs.second_delivery_id,
        pairs.is_same_delivery,
        pairs.days_apart

    from pairs

    left join listed_payees
        on
            pairs.municipality_id = listed_payees.municipality_id
            and pairs.supplier_key = listed_payees.supplier_key
            and pairs.first_invoice_year = listed_payees.year

    left join supplier_names
        on pairs.supplier_key = supplier_names.supplier_key

    where listed_payees.supplier_key is null

)

select * from final
