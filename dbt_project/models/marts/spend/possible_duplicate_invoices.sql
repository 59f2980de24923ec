-- Possible duplicate invoices: pairs of invoices a member may have paid twice.
-- Read from fct_spend_lines, which holds only live lines (replaced deliveries
-- are left out; an identical file is never loaded twice).
--
-- An invoice here is one copy of an invoice id from one supplier in one
-- delivery: the lines of (municipality, supplier_key, invoice_id, delivery_id),
-- its amount the sum of those lines. When a file repeats a line number of an
-- invoice, the repeat starts a second copy (the n-th occurrence of each line
-- number in file order is copy n); lines without a line number are copy 1.
-- Copies are ordered per member and supplier by invoice date, invoice id,
-- delivery id and copy; the earlier one is the `first_` side of a pair.
--
-- (a) 'same invoice id delivered twice': two copies of the same invoice id
--     (same member, same supplier_key), in two deliveries or twice in one file;
--     whatever their amounts.
-- (b) 'same amount within N days under another invoice id': same member, same
--     supplier_key, different invoice ids, the same amount (> 0: credit notes
--     and zero totals are never paired by amount) and invoice dates at most
--     var('duplicate_window_days') days apart (default 7, both ends inclusive).
-- Every pair is reported once (first before second); k copies give
-- k * (k - 1) / 2 pairs.

{%- set window_days = var('duplicate_window_days', 7) | int %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

numbered_lines as (

    select
        municipality_id,
        supplier_key,
        invoice_id,
        delivery_id,
        invoice_date,
        amount,
        source_file,
        source_row,
        case
            when line_no is null then 1
            else row_number() over (
                partition by municipality_id, supplier_key, invoice_id, delivery_id, line_no
                order by source_row, spend_line_id
            )
        end as copy_number

    from spend_lines

),

invoices as (

    select
        municipality_id,
        supplier_key,
        invoice_id,
        delivery_id,
        copy_number,
        min(invoice_date) as invoice_date,
        sum(amount) as amount,
        min(source_file) as source_file,
        min(source_row) as source_row,
        count(*) as line_count

    from numbered_lines

    group by
        municipality_id,
        supplier_key,
        invoice_id,
        delivery_id,
        copy_number

),

ordered_invoices as (

    select
        *,
        row_number() over (
            partition by municipality_id, supplier_key
            order by invoice_date, invoice_id, delivery_id, copy_number
        ) as invoice_order

    from invoices

),

-- the pairs as (member, supplier, first and second invoice_order) and a reason
same_id_pairs as (

    select
        first_invoice.municipality_id,
        first_invoice.supplier_key,
        first_invoice.invoice_order as first_invoice_order,
        second_invoice.invoice_order as second_invoice_order,
        'same invoice id delivered twice' as reason

    from ordered_invoices as first_invoice

    inner join ordered_invoices as second_invoice
        on
            first_invoice.municipality_id = second_invoice.municipality_id
            and first_invoice.supplier_key = second_invoice.supplier_key
            and first_invoice.invoice_id = second_invoice.invoice_id
            and first_invoice.invoice_order < second_invoice.invoice_order

),

same_amount_pairs as (

    select
        first_invoice.municipality_id,
        first_invoice.supplier_key,
        first_invoice.invoice_order as first_invoice_order,
        second_invoice.invoice_order as second_invoice_order,
        'same amount within {{ window_days }} days under another invoice id' as reason

    from ordered_invoices as first_invoice

    inner join ordered_invoices as second_invoice
        on
            first_invoice.municipality_id = second_invoice.municipality_id
            and first_invoice.supplier_key = second_invoice.supplier_key
            and first_invoice.amount = second_invoice.amount
            and first_invoice.invoice_id <> second_invoice.invoice_id
            and first_invoice.invoice_order < second_invoice.invoice_order

    where
        first_invoice.amount > 0
        and {{ dbt.datediff(
            'first_invoice.invoice_date', 'second_invoice.invoice_date', 'day'
        ) }} <= {{ window_days }}

),

pairs as (

    select * from same_id_pairs

    union all

    select * from same_amount_pairs

),

final as (

    select
        pairs.municipality_id,
        pairs.supplier_key,
        supplier_names.supplier_name,
        pairs.reason,
        first_invoice.invoice_id as first_invoice_id,
        cast(first_invoice.invoice_date as date) as first_invoice_date,
        cast(first_invoice.amount as decimal(18, 4)) as first_amount,
        first_invoice.line_count as first_line_count,
        first_invoice.source_file as first_source_file,
        first_invoice.source_row as first_source_row,
        first_invoice.delivery_id as first_delivery_id,
        second_invoice.invoice_id as second_invoice_id,
        cast(second_invoice.invoice_date as date) as second_invoice_date,
        cast(second_invoice.amount as decimal(18, 4)) as second_amount,
        second_invoice.line_count as second_line_count,
        second_invoice.source_file as second_source_file,
        second_invoice.source_row as second_source_row,
        second_invoice.delivery_id as second_delivery_id,
        first_invoice.delivery_id = second_invoice.delivery_id as is_same_delivery,
        cast(
            {{ dbt.datediff(
                'first_invoice.invoice_date', 'second_invoice.invoice_date', 'day'
            ) }} as integer
        ) as days_apart

    from pairs

    inner join ordered_invoices as first_invoice
        on
            pairs.municipality_id = first_invoice.municipality_id
            and pairs.supplier_key = first_invoice.supplier_key
            and pairs.first_invoice_order = first_invoice.invoice_order

    inner join ordered_invoices as second_invoice
        on
            pairs.municipality_id = second_invoice.municipality_id
            and pairs.supplier_key = second_invoice.supplier_key
            and pairs.second_invoice_order = second_invoice.invoice_order

    left join supplier_names
        on pairs.supplier_key = supplier_names.supplier_key

)

select * from final
