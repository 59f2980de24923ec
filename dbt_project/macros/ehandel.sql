{#
    eHandel: a spend line counts as ordered through e-commerce when its invoice carries
    an order reference (the spend contract's `order_ref`, the purchase-order number the
    e-commerce system puts on the invoice); an empty or blank reference does not count.
    The one place of this rule; ehandel_spend_columns() sums it the same way for
    municipality_kpis and category_kpis.
#}
{% macro is_ordered_through_ehandel(order_ref) -%}
    ({{ order_ref }} is not null and trim({{ order_ref }}) <> '')
{%- endmacro %}

{#- The two eHandel sums of a group of influenceable lines (columns order_ref,
    is_on_agreement and amount): ordered through e-commerce, and of that on agreement. -#}
{% macro ehandel_spend_columns() -%}
    sum(
        case when {{ is_ordered_through_ehandel('order_ref') }} then amount else 0 end
    ) as ehandel_influenceable_spend,
    sum(
        case
            when is_on_agreement and {{ is_ordered_through_ehandel('order_ref') }}
                then amount
            else 0
        end
    ) as ehandel_on_agreement_spend
{%- endmacro %}
