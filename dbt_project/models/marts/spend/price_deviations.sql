-- Price control: spend lines invoiced at another unit price than the agreed one.
-- A line is compared when it has a seller_item_id, a unit_price and an
-- identified supplier (rule 5), with the price list rows (stg_raw__price_list) of
-- every agreement active for it with its supplier on it (BRIEF §4 rule 3 via
-- int_spend_line_agreements: the line's category and municipality, valid_from <=
-- invoice_date <= valid_to) whose supplier is the line's supplier (a price list
-- names its supplier by organisation number: the identity of a supplier that has
-- one), whose item_id is the line's seller_item_id, and whose own period holds
-- the invoice date. Several such
-- prices: the lowest (in the cooperation's currency) is the agreed price
-- (ties: the first agreement_id); matching_price_count says how many there were.
--
-- Currency: prices are compared in the cooperation's currency, each converted
-- with the rate of the invoice month (rate 1 for the cooperation's currency); a
-- line and a price in the same currency are compared as they are. A price list
-- currency without a rate for the month: that price is not used.
--
-- Reported: invoiced > agreed * (1 + tolerance) as 'above', invoiced < agreed *
-- (1 - tolerance) as 'below' (exactly at the tolerance: not reported).
-- Tolerance: var('price_tolerance') = cooperation.price_tolerance (default 0.02).
-- The invoiced unit price is compared without its sign (credit notes carry the
-- sign in the quantity or the amount); excess_amount = (invoiced - agreed) x
-- quantity, the quantity signed like the line's amount, so a credit note counts
-- as it is (negative on a returned overcharged item).

{%- set tolerance = var('price_tolerance', 0.02) %}

with

spend_lines as (

    select * from {{ ref('fct_spend_lines') }}

    where
        seller_item_id is not null
        and unit_price is not null
        and is_supplier_identified

),

-- the agreements active for the lines (rule 3) that have the line's supplier
line_agreements as (

    select * from {{ ref('int_spend_line_agreements') }}

    where is_supplier_on_agreement

),

price_list as (

    select * from {{ ref('stg_raw__price_list') }}

),

exchange_rates as (

    select * from {{ ref('stg_raw__exchange_rates') }}

),

cooperations as (

    select * from {{ ref('stg_raw__cooperations') }}

),

supplier_names as (

    select * from {{ ref('int_supplier_names') }}

),

-- every agreed price of an agreement active for the line, with its rate
candidate_prices as (

    select
        spend_lines.spend_line_key,
        price_list.agreement_id,
        price_list.unit_price as agreed_unit_price,
        price_list.currency as price_list_currency,
        {{ rate_to_cooperation_currency(
            'price_list.currency', 'cooperations.currency', 'exchange_rates.rate_to_base'
        ) }} as price_list_exchange_rate

    from spend_lines

    inner join line_agreements
        on {{ same_match_key('spend_lines', 'line_agreements') }}

    inner join price_list
        on
            line_agreements.agreement_id = price_list.agreement_id
            and spend_lines.supplier_key = price_list.supplier_org_no
            and spend_lines.seller_item_id = price_list.item_id
            and spend_lines.invoice_date >= price_list.valid_from
            and spend_lines.invoice_date <= price_list.valid_to

    cross join cooperations

    left join exchange_rates
        on
            price_list.currency = exchange_rates.currency
            and spend_lines.month_start = exchange_rates.month_start

),

converted_prices as (

    select
        candidate_prices.*,
        cast(candidate_prices.agreed_unit_price as decimal(38, 6))
        * cast(candidate_prices.price_list_exchange_rate as decimal(38, 8))
            as agreed_unit_price_base

    from candidate_prices

    where candidate_prices.price_list_exchange_rate is not null

),

ranked_prices as (

    select
        converted_prices.*,
        row_number() over (
            partition by converted_prices.spend_line_key
            order by
                converted_prices.agreed_unit_price_base,
                converted_prices.agreement_id
        ) as price_rank,
        count(*) over (
            partition by converted_prices.spend_line_key
        ) as matching_price_count

    from converted_prices

),

compared as (

    select
        spend_lines.*,
        ranked_prices.agreement_id,
        ranked_prices.agreed_unit_price,
        ranked_prices.price_list_currency,
        ranked_prices.agreed_unit_price_base,
        ranked_prices.matching_price_count,
        cast(abs(spend_lines.unit_price) as decimal(38, 6))
        * cast(spend_lines.exchange_rate as decimal(38, 8)) as invoiced_unit_price_base,
        -- same currency: compared as written, no rounding in a conversion
        case
            when spend_lines.currency = ranked_prices.price_list_currency
                then cast(abs(spend_lines.unit_price) as decimal(38, 14))
            else
                cast(abs(spend_lines.unit_price) as decimal(38, 6))
                * cast(spend_lines.exchange_rate as decimal(38, 8))
        end as compared_invoiced_price,
        case
            when spend_lines.currency = ranked_prices.price_list_currency
                then cast(ranked_prices.agreed_unit_price as decimal(38, 14))
            else ranked_prices.agreed_unit_price_base
        end as compared_agreed_price,
        case
            when spend_lines.amount_excl_vat < 0 then -abs(spend_lines.quantity)
            else abs(spend_lines.quantity)
        end as signed_quantity

    from spend_lines

    inner join ranked_prices
        on spend_lines.spend_line_key = ranked_prices.spend_line_key

    where ranked_prices.price_rank = 1

),

deviations as (

    select
        compared.*,
        case
            when
                compared.compared_invoiced_price
                > compared.compared_agreed_price
                * (1 + cast({{ tolerance }} as decimal(9, 6)))
                then 'above'
            when
                compared.compared_invoiced_price
                < compared.compared_agreed_price
                * (1 - cast({{ tolerance }} as decimal(9, 6)))
                then 'below'
        end as direction

    from compared

),

final as (

    select
        deviations.municipality_id,
        deviations.invoice_id,
        deviations.line_no,
        deviations.source_file,
        deviations.source_row,
        deviations.invoice_date,
        deviations.supplier_key,
        supplier_names.supplier_name,
        deviations.agreement_id,
        deviations.seller_item_id as item_id,
        deviations.description,
        deviations.quantity,
        deviations.currency,
        deviations.unit_price as invoiced_unit_price,
        deviations.price_list_currency,
        deviations.agreed_unit_price,
        deviations.direction,
        cast(
            round(
                {{ safe_ratio(
                    'deviations.compared_invoiced_price - deviations.compared_agreed_price',
                    'deviations.compared_agreed_price'
                ) }},
                6
            ) as decimal(18, 6)
        ) as deviation,
        cast(
            round(
                (
                    deviations.invoiced_unit_price_base
                    - deviations.agreed_unit_price_base
                )
                * cast(deviations.signed_quantity as decimal(38, 4)),
                4
            ) as decimal(18, 4)
        ) as excess_amount,
        deviations.amount,
        deviations.category_id,
        deviations.matching_price_count,
        deviations.spend_line_id

    from deviations

    left join supplier_names
        on deviations.supplier_key = supplier_names.supplier_key

    where deviations.direction is not null

)

select * from final
