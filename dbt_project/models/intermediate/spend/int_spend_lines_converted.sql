-- Every loaded spend line with its period and its amount in the cooperation's
-- currency. A line in the cooperation's currency has rate 1; a line in another
-- currency takes the rate of its invoice month. A line with no rate keeps a NULL
-- rate and a rejection reason: fct_spend_lines leaves it out, rejected_rows
-- reports it. Lines of a delivery that a corrected delivery replaced are left out.
-- (The line's supplier identity is int_supplier_identities'.)

with

replaced_deliveries as (

    select distinct delivery_id from {{ ref('stg_raw__delivery_replacements') }}

),

loaded_lines as (

    select * from {{ ref('stg_raw__spend_lines') }}

),

spend_lines as (

    select loaded_lines.*

    from loaded_lines

    left join replaced_deliveries
        on loaded_lines.delivery_id = replaced_deliveries.delivery_id

    where replaced_deliveries.delivery_id is null

),

cooperations as (

    select * from {{ ref('stg_raw__cooperations') }}

),

exchange_rates as (

    select * from {{ ref('stg_raw__exchange_rates') }}

),

dated as (

    select
        spend_lines.*,
        cast(extract(year from spend_lines.invoice_date) as integer) as year,
        cast(extract(quarter from spend_lines.invoice_date) as integer) as quarter,
        cast({{ dbt.date_trunc('month', 'spend_lines.invoice_date') }} as date) as month_start

    from spend_lines

),

rated as (

    select
        dated.*,
        cooperations.currency as cooperation_currency,
        {{ rate_to_cooperation_currency(
            'dated.currency', 'cooperations.currency', 'exchange_rates.rate_to_base'
        ) }} as exchange_rate

    from dated

    cross join cooperations

    left join exchange_rates
        on
            dated.currency = exchange_rates.currency
            and dated.month_start = exchange_rates.month_start

),

final as (

    select
        rated.*,
        -- amount = cast(amount_excl_vat * exchange_rate as decimal(18, 4)).
        -- Widened before multiplying (decimal(18, 4) * decimal(18, 8) can
        -- overflow) and rounded before narrowing (much faster than the cast's
        -- own rounding, same result); rate 1 needs no arithmetic at all.
        case
            when rated.exchange_rate = 1 then rated.amount_excl_vat
            else cast(
                round(
                    cast(rated.amount_excl_vat as decimal(38, 4))
                    * cast(rated.exchange_rate as decimal(38, 8)),
                    4
                ) as decimal(18, 4)
            )
        end as amount,
        rated.exchange_rate is not null as has_exchange_rate,
        case
            when rated.exchange_rate is null
                then {{ dbt.concat([
                    "'no exchange rate for '",
                    'rated.currency',
                    "' '",
                    'substring(cast(rated.month_start as ' ~ dbt.type_string() ~ '), 1, 7)',
                ]) }}
        end as rejection_reason

    from rated

)

select * from final
