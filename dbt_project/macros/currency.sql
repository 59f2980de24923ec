{#
    The rate that converts an amount in `currency` to the cooperation's currency
    (BRIEF §4): 1 for the cooperation's own currency, else the monthly rate of the
    invoice month (`rate`, from stg_raw__exchange_rates joined on currency and
    month; NULL when there is none: the line is rejected, a price is not used).
#}
{% macro rate_to_cooperation_currency(currency, cooperation_currency, rate) -%}
    case
        when {{ currency }} = {{ cooperation_currency }} then cast(1 as decimal(18, 8))
        else {{ rate }}
    end
{%- endmacro %}
