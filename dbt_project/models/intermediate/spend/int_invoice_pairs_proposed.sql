{{ config(
    materialized=line_model_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_members_with_new_lines() }}",
) }}

-- Candidate pairs of invoices a member may have paid twice, for every payee
-- (possible_duplicate_payees decides which payees are listed instead of paired;
-- possible_duplicate_invoices keeps the pairs of the others). Reads
-- fct_spend_lines, which holds only live lines.
--
-- An invoice is one copy of an invoice id from one supplier in one delivery:
-- the lines of (municipality, supplier_key, invoice_id, delivery_id), its
-- amount the sum of those lines. When a file repeats a line number of an
-- invoice, the repeat starts a second copy (the n-th occurrence of each line
-- number in file order is copy n); lines without a line number are copy 1.
--
-- Bounded by construction: both rules are window functions over one sort of
-- the invoices (no self-join), and every invoice is the second side of at most
-- one pair per rule, so a payee with n invoices gives fewer than 2n pairs.
--
-- (a) 'same invoice id delivered twice': the copies of one invoice id (same
--     member, same supplier_key), ordered by invoice date, source file (so a
--     monthly file named by its month comes before the next month's), delivery
--     id and copy; every later copy is paired with the FIRST copy, whatever
--     the amounts: k copies give k - 1 pairs.
-- (b) 'same amount within N days under another invoice id': each invoice id
--     counts once, by its first copy (later copies are rule (a)'s). Among the
--     invoice ids of one member and supplier_key with the same amount, ordered
--     by invoice date and invoice id, each is paired with the NEAREST EARLIER
--     one when their invoice dates are at most var('duplicate_window_days')
--     days apart (default 7, both ends inclusive). The amount must be above 0
--     (credit notes and zero totals are never paired by amount) and at least
--     var('duplicate_min_amount') (default 0). Ids on days 1, 2 and 3 give 1-2
--     and 2-3, not 1-3.
-- first_invoice_year (the year of the first side's invoice date) is the year
-- a pair counts in: for the per-supplier cap and for `samkjop export --year`.
--
-- The windows sort millions of lines: they carry integers for the delivery and
-- the file (file_order: the rank of (source_file, delivery_id), so ordering by
-- it is ordering by source file, then delivery id), and the names are joined
-- back to the pairs at the end.
--
-- A member's pairs are computed from its own lines alone: incremental on DuckDB
-- by member (macro members_with_new_lines), a build recomputes the members with
-- lines loaded since the last one and keeps the pairs of the others.
-- max_spend_line_key: the highest spend_line_key loaded when the pair was
-- computed. Rules, reference data, settings or code that changed make it a full
-- rebuild (pipelines/incremental.py).

{%- set window_days = var('duplicate_window_days', 7) | int %}
{%- set min_amount = var('duplicate_min_amount', 0) %}
{#- each over () spells its window out: not every engine has a WINDOW clause #}
{%- set same_invoice_id -%}
    partition by municipality_id, supplier_key, invoice_id
    order by invoice_date, file_order, copy_number
{%- endset %}
{%- set same_amount -%}
    partition by municipality_id, supplier_key, amount
    order by invoice_date, invoice_id
{%- endset %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }} as lines

    where true {{ of_members_with_new_lines('lines') }}

),

loaded_lines as (

    select max(spend_line_key) as max_spend_line_key

    from {{ ref('stg_raw__spend_lines') }}

),

line_files as (

    select
        delivery_id,
        source_file,
        dense_rank() over (order by delivery_id) as delivery_number,
        row_number() over (order by source_file, delivery_id) as file_order

    from (
        select distinct
            delivery_id,
            source_file

        from spend_lines
    ) as distinct_files

),

numbered_lines as (

    select
        spend_lines.municipality_id,
        spend_lines.supplier_key,
        spend_lines.invoice_id,
        line_files.delivery_number,
        line_files.file_order,
        spend_lines.invoice_date,
        spend_lines.amount,
        spend_lines.source_row,
        case
            when spend_lines.line_no is null then 1
            else row_number() over (
                partition by
                    spend_lines.municipality_id,
                    spend_lines.supplier_key,
                    spend_lines.invoice_id,
                    line_files.delivery_number,
                    spend_lines.line_no
                order by spend_lines.source_row, spend_lines.spend_line_key
            )
        end as copy_number

    from spend_lines

    inner join line_files
        on {{ same_values('spend_lines', 'line_files', ['delivery_id', 'source_file']) }}

),

invoices as (

    select
        municipality_id,
        supplier_key,
        invoice_id,
        delivery_number,
        copy_number,
        min(invoice_date) as invoice_date,
        sum(amount) as amount,
        min(file_order) as file_order,
        min(source_row) as source_row,
        count(*) as line_count

    from numbered_lines

    group by
        municipality_id,
        supplier_key,
        invoice_id,
        delivery_number,
        copy_number

),

ranked_copies as (

    select
        *,
        row_number() over ({{ same_invoice_id }}) as copy_rank

    from invoices

),

-- rule (a): every later copy beside the first copy of its invoice id
copies_with_first as (

    select
        *,
        first_value(invoice_date) over (
            {{ same_invoice_id }} rows between unbounded preceding and current row
        ) as first_invoice_date,
        first_value(amount) over (
            {{ same_invoice_id }} rows between unbounded preceding and current row
        ) as first_amount,
        first_value(line_count) over (
            {{ same_invoice_id }} rows between unbounded preceding and current row
        ) as first_line_count,
        first_value(file_order) over (
            {{ same_invoice_id }} rows between unbounded preceding and current row
        ) as first_file_order,
        first_value(source_row) over (
            {{ same_invoice_id }} rows between unbounded preceding and current row
        ) as first_source_row

    from ranked_copies

),

same_id_pairs as (

    select
        municipality_id,
        supplier_key,
        'same invoice id delivered twice' as reason,
        invoice_id as first_invoice_id,
        first_invoice_date,
        first_amount,
        first_line_count,
        first_file_order,
        first_source_row,
        invoice_id as second_invoice_id,
        invoice_date as second_invoice_date,
        amount as second_amount,
        line_count as second_line_count,
        file_order as second_file_order,
        source_row as second_source_row

    from copies_with_first

    where copy_rank > 1

),

-- rule (b): each invoice id (its first copy) beside the nearest earlier id of the same amount
amount_candidates as (

    select * from ranked_copies

    where
        copy_rank = 1
        and amount > 0
        and amount >= cast({{ min_amount }} as decimal(18, 4))

),

invoices_with_previous as (

    select
        *,
        lag(invoice_id) over ({{ same_amount }}) as previous_invoice_id,
        lag(invoice_date) over ({{ same_amount }}) as previous_invoice_date,
        lag(amount) over ({{ same_amount }}) as previous_amount,
        lag(line_count) over ({{ same_amount }}) as previous_line_count,
        lag(file_order) over ({{ same_amount }}) as previous_file_order,
        lag(source_row) over ({{ same_amount }}) as previous_source_row

    from amount_candidates

),

same_amount_pairs as (

    select
        municipality_id,
        supplier_key,
        'same amount within {{ window_days }} days under another invoice id' as reason,
        previous_invoice_id as first_invoice_id,
        previous_invoice_date as first_invoice_date,
        previous_amount as first_amount,
        previous_line_count as first_line_count,
        previous_file_order as first_file_order,
        previous_source_row as first_source_row,
        invoice_id as second_invoice_id,
        invoice_date as second_invoice_date,
        amount as second_amount,
        line_count as second_line_count,
        file_order as second_file_order,
        source_row as second_source_row

    from invoices_with_previous

    where
        previous_invoice_id is not null
        and {{ dbt.datediff(
            'previous_invoice_date', 'invoice_date', 'day'
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
        pairs.reason,
        pairs.first_invoice_id,
        cast(pairs.first_invoice_date as date) as first_invoice_date,
        cast(pairs.first_amount as decimal(38, 4)) as first_amount,
        pairs.first_line_count,
        first_files.source_file as first_source_file,
        pairs.first_source_row,
        first_files.delivery_id as first_delivery_id,
        pairs.second_invoice_id,
        cast(pairs.second_invoice_date as date) as second_invoice_date,
        cast(pairs.second_amount as decimal(38, 4)) as second_amount,
        pairs.second_line_count,
        second_files.source_file as second_source_file,
        pairs.second_source_row,
        second_files.delivery_id as second_delivery_id,
        first_files.delivery_id = second_files.delivery_id as is_same_delivery,
        cast(
            {{ dbt.datediff('pairs.first_invoice_date', 'pairs.second_invoice_date', 'day') }}
            as integer
        ) as days_apart,
        cast(extract(year from pairs.first_invoice_date) as integer) as first_invoice_year,
        loaded_lines.max_spend_line_key

    from pairs

    cross join loaded_lines

    inner join line_files as first_files
        on pairs.first_file_order = first_files.file_order

    inner join line_files as second_files
        on pairs.second_file_order = second_files.file_order

)

select * from final
